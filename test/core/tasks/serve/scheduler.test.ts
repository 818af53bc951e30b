/**
 * Continuous batching: jobs that arrive at different times, with different prompts, seeds,
 * sampling, penalties, heads and budgets, each get exactly the tokens of a generation alone; the
 * batch reads each weight once for all of them; aborted jobs leave at the next step; a full queue
 * refuses; closing finishes or cancels what is left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {generateTokens, type TokenEvent} from '../../../../src/core/decode/generate.js';
import {Session} from '../../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {installFfnPlans} from '../../../../src/core/hire/ffn/setup.js';
import {syntheticFfnPlans} from '../../../../src/core/hire/ffn/synthetic-plans.js';
import {syntheticPredictor} from '../../../../src/core/hire/predictor/synthetic.js';
import {HireSoftmaxHead} from '../../../../src/core/hire/softmax/head.js';
import {Scheduler, type ServeJob} from '../../../../src/core/tasks/serve/scheduler.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-sched-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const dir = path.join(tmp, 'model');
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 128, vocabSize: 120, maxSeqLen: 64, activation: 'relu', ffnTopK: 0.2, seed: 31});

const SAMPLED = {temperature: 0.9, topK: 20, topP: 0.95};
const GREEDY = {temperature: 0, topK: 0, topP: 1};

type Job = Omit<ServeJob, 'head'> & {hire?: boolean};

function expectClose(a: TokenEvent, b: TokenEvent): void {
  expect(a.logprobs === undefined).toBe(b.logprobs === undefined);
  if (!a.logprobs || !b.logprobs) return;
  expect(a.logprobs.logprob!).toBeCloseTo(b.logprobs.logprob!, 4);
  expect(a.logprobs.top.map((t) => t.id)).toEqual(b.logprobs.top.map((t) => t.id));
  a.logprobs.top.forEach((t, j) => expect(t.logprob).toBeCloseTo(b.logprobs!.top[j]!.logprob, 4));
}

/** A generation alone, with the same options. */
async function alone(s: Session, job: ServeJob): Promise<TokenEvent[]> {
  const out: TokenEvent[] = [];
  for await (const t of generateTokens(s, job.promptIds, job)) out.push(t);
  return out;
}

describe('scheduler (continuous batching)', () => {
  let s: Session;
  let hireHead: HireSoftmaxHead;
  beforeAll(async () => {
    s = await Session.open(dir, {backend: 'cpu', tokenizer: 'none', ffnNeuronRows: true});
    await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read: 0.4}), 0.2);
    hireHead = new HireSoftmaxHead(s.backend, s.model.weights.lmHead, syntheticPredictor({kind: 'quant', vocabSize: 120, dim: 32, rank: 8, bits: 8, groupSize: 32, seed: 3}), {kPrime: 24, certifyK: null});
  });
  afterAll(() => s.dispose());

  const jobs: Job[] = [
    {promptIds: [42, 1], maxTokens: 20, sampling: SAMPLED, seed: 9, eosTokenIds: [], hire: true},
    {promptIds: [5, 9, 14], maxTokens: 12, sampling: SAMPLED, seed: 100, eosTokenIds: [17]},
    {promptIds: [100], maxTokens: 9, sampling: GREEDY, seed: 1, eosTokenIds: []},
    {promptIds: [7, 7, 7, 7, 3, 8, 2, 11, 40, 41, 42], maxTokens: 14, sampling: SAMPLED, seed: 7, eosTokenIds: [], penalties: {repetitionPenalty: 1.3, frequencyPenalty: 0.2}, logprobs: 3},
    {promptIds: [3, 4, 5, 6], maxTokens: 5, sampling: GREEDY, seed: 0, eosTokenIds: [], hire: true, logprobs: 2},
    {promptIds: [60, 61], maxTokens: 70, sampling: SAMPLED, seed: 5, eosTokenIds: []}, // runs into the context
  ];
  const withHead = (j: Job): ServeJob => ({...j, head: j.hire ? hireHead : s.head(j.sampling, {dense: true}).head});

  it('jobs arriving while others run get the tokens, log-probs and stop reasons of a generation alone', async () => {
    const sched = new Scheduler(s, {maxBatch: 4, maxQueue: 16, prefillChunk: 4});
    const seen = jobs.map(() => [] as TokenEvent[]);
    const results: Promise<unknown>[] = [];
    // job 0 runs first; job k joins the running batch when job 0 has chosen its k-th token
    const submit = (i: number) => {
      results[i] = sched.submit({
        ...withHead(jobs[i]!),
        onToken: (t) => {
          seen[i]!.push(t);
          if (i === 0 && seen[0]!.length < jobs.length) submit(seen[0]!.length);
        },
      });
    };
    submit(0);
    await results[0];
    const done = (await Promise.all(results)) as Array<{tokenIds: number[]; stopReason: string}>;
    for (let i = 0; i < jobs.length; i++) {
      const ref = await alone(s, withHead(jobs[i]!));
      expect(seen[i]!.map((t) => [t.id, t.pos])).toEqual(ref.map((t) => [t.id, t.pos]));
      // log-probs: the batched kernels may round differently from one row alone
      seen[i]!.forEach((t, k) => expectClose(t, ref[k]!));
      expect(done[i]!.tokenIds).toEqual(ref.map((t) => t.id));
    }
    expect(done[5]!.stopReason).toBe('context_full');
    expect(sched.active + sched.queued).toBe(0);
    const text = sched.metrics.render();
    expect(text).toMatch(/^hire_generated_tokens_total (\d+)$/m);
    expect(Number(/^hire_generated_tokens_total (\d+)$/m.exec(text)![1])).toBe(done.reduce((a, d) => a + d.tokenIds.length, 0));
    expect(Number(/^hire_ffn_groups_per_step (\S+)$/m.exec(text)![1])).toBeGreaterThan(0);
  });

  it('decodes the batch together: fewer weight bytes per token than one sequence alone', async () => {
    const one = new Scheduler(s, {maxBatch: 1, maxQueue: 16});
    await one.submit(withHead({promptIds: [1, 2], maxTokens: 8, sampling: GREEDY, seed: 0, eosTokenIds: []}));
    const many = new Scheduler(s, {maxBatch: 8, maxQueue: 16});
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((p) => many.submit(withHead({promptIds: [p, p + 1], maxTokens: 8, sampling: GREEDY, seed: 0, eosTokenIds: []}))));
    expect(many.metrics.bytesPerToken!).toBeLessThan(one.metrics.bytesPerToken! * 0.7);
  });

  it('newcomers arriving together are prefilled in one forward pass per head, and still get the tokens of a generation alone', async () => {
    const burst: Job[] = [
      {promptIds: [1, 2, 3], maxTokens: 6, sampling: SAMPLED, seed: 3, eosTokenIds: []},
      {promptIds: [9], maxTokens: 6, sampling: SAMPLED, seed: 8, eosTokenIds: []},
      {promptIds: [50, 51, 52, 53, 54, 55, 56], maxTokens: 6, sampling: SAMPLED, seed: 4, eosTokenIds: []},
      {promptIds: [11, 12, 13, 14], maxTokens: 6, sampling: SAMPLED, seed: 6, eosTokenIds: [], penalties: {repetitionPenalty: 1.2}},
      {promptIds: [7, 8], maxTokens: 6, sampling: SAMPLED, seed: 5, eosTokenIds: [], hire: true},
      {promptIds: [30, 31, 32], maxTokens: 6, sampling: SAMPLED, seed: 2, eosTokenIds: [], hire: true},
    ];
    const [run, step] = [s.model.run.bind(s.model), s.step.bind(s)];
    let passes = 0;
    let steps = 0;
    s.model.run = (rows) => (passes++, run(rows));
    s.step = (seqs, tokens, head) => (steps++, step(seqs, tokens, head));
    let done: Array<{tokenIds: number[]}>;
    try {
      const sched = new Scheduler(s, {maxBatch: 8, maxQueue: 16});
      done = await Promise.all(burst.map((j) => sched.submit(withHead(j))));
    } finally {
      s.model.run = run;
      s.step = step;
    }
    // the first job starts the loop alone; the other five join at the next turn: one pass for the
    // dense head's three prompts and one for the HiRE head's two (one per prompt would be six)
    expect(passes - steps).toBe(3);
    for (let i = 0; i < burst.length; i++) expect(done[i]!.tokenIds).toEqual((await alone(s, withHead(burst[i]!))).map((t) => t.id));
  });

  it('an aborted job leaves at the next step; the others are unaffected', async () => {
    const sched = new Scheduler(s, {maxBatch: 4, maxQueue: 16});
    const ac = new AbortController();
    let got = 0;
    const job = withHead({promptIds: [5, 6], maxTokens: 40, sampling: GREEDY, seed: 0, eosTokenIds: []});
    const gone = sched.submit({...job, signal: ac.signal, onToken: () => void (++got === 3 && ac.abort(new Error('client went away')))});
    const other = withHead(jobs[1]!);
    const kept = sched.submit(other);
    await expect(gone).rejects.toMatchObject({code: 'E_ABORTED'});
    expect(got).toBe(3);
    expect((await kept).tokenIds).toEqual((await alone(s, other)).map((t) => t.id));
  });

  it('refuses past the queue bound, and closing cancels what outlives the deadline', async () => {
    const sched = new Scheduler(s, {maxBatch: 1, maxQueue: 1});
    const long = withHead({promptIds: [5, 6], maxTokens: 60, sampling: GREEDY, seed: 0, eosTokenIds: []});
    const running = sched.submit(long);
    const queued = sched.submit(long);
    await expect(sched.submit(long)).rejects.toMatchObject({code: 'E_OVERLOADED', reason: 'queue_full', retryAfter: 1});
    const closed = sched.close(0);
    await expect(sched.submit(long)).rejects.toMatchObject({code: 'E_OVERLOADED', reason: 'shutting_down'});
    await expect(running).rejects.toMatchObject({code: 'E_ABORTED'});
    await expect(queued).rejects.toMatchObject({code: 'E_ABORTED'});
    await closed;
    expect(sched.active + sched.queued).toBe(0);
  });

  it('rejects a bad prompt at once', async () => {
    const sched = new Scheduler(s, {maxBatch: 1, maxQueue: 1});
    await expect(sched.submit(withHead({promptIds: [], maxTokens: 4, sampling: GREEDY, seed: 0, eosTokenIds: []}))).rejects.toMatchObject({code: 'E_USAGE'});
    await expect(sched.submit(withHead({promptIds: [500], maxTokens: 4, sampling: GREEDY, seed: 0, eosTokenIds: []}))).rejects.toMatchObject({code: 'E_USAGE'});
  });
});
