/**
 * Hugging Face ids from code: loadModel, loadBundle, calibrate and bench take `org/name` and find
 * it in the Hugging Face cache (HF_HOME points at a temporary folder; the real home cache is never
 * touched) without any request; `download: true` fetches a missing model from the Hub (here a
 * loopback fake serving llama2xs and the demo bundle), and the error without it says what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {bench, calibrate, demo, generate, loadBundle, loadModel, pullModel, resolveModel, type ProgressEvent} from '../../src/index.js';
import {FakeHub} from '../helpers/fake-hub.js';
import {rejection} from '../helpers/caught.js';
import {QUICK_OPTIONS} from '../helpers/bundle-fixtures.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../helpers/shared.js';

const HF_VARS = ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH'];
const saved = Object.fromEntries(HF_VARS.map((k) => [k, process.env[k]]));

let hub: FakeHub;
let home: string;

beforeAll(async () => {
  hub = await FakeHub.start([
    ...(HAVE_SHARED ? [{id: 'shared/llama2xs', dir: LLAMA2XS_DIR}] : []),
    {id: 'hire-demo/shakespeare-topk-hire', dir: demo.bundle},
  ]);
});

afterAll(async () => {
  await hub.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

beforeEach(() => {
  for (const k of HF_VARS) delete process.env[k];
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-hf-home-'));
  process.env['HF_HOME'] = home;
  process.env['HF_ENDPOINT'] = hub.url;
  hub.requests.length = 0;
});

describe.runIf(HAVE_SHARED)('a Hub id from code (llama2xs)', () => {
  // a skipped describe's body still runs (to list its tests), so without ../shared nothing is read
  const ref = HAVE_SHARED ? readLlama2xsReference() : {prompt: '', prompt_token_ids: [], greedy_token_ids: [], greedy_text: '', first_step_top10_logits: []};
  // greedy_token_ids: the prompt followed by the greedy continuation
  const continuation = ref.greedy_token_ids.slice(ref.prompt_token_ids.length);
  const greedy = {maxTokens: continuation.length, temperature: 0, stopOnEos: false};

  it('without download: one HubError that says how to get it, and no request', async () => {
    const err = await rejection(loadModel('shared/llama2xs'));
    expect(err.code).toBe('E_HUB');
    expect(err.message).toBe(`shared/llama2xs: not in the Hugging Face cache ${path.join(home, 'hub')} (and no directory of that name here); download it first with \`hire pull shared/llama2xs\`, or load it with \`download: true\``);
    expect(hub.requests).toEqual([]);
  });

  it('download: true fetches it into the cache with per-file progress; then it loads with no request at all', async () => {
    const events: ProgressEvent[] = [];
    const model = await loadModel('shared/llama2xs', {download: true, threads: 1, onProgress: (e) => events.push(e)});
    try {
      const commit = hub.commitOf('shared/llama2xs');
      expect(model.dir).toBe(path.join(home, 'hub', 'models--shared--llama2xs', 'snapshots', commit));
      const r = await generate(model, ref.prompt_token_ids, greedy).complete();
      expect(ref.greedy_token_ids.slice(0, ref.prompt_token_ids.length)).toEqual(ref.prompt_token_ids);
      expect(r.tokenIds).toEqual(continuation);
    } finally {
      model.dispose();
    }
    const size = fs.statSync(path.join(LLAMA2XS_DIR, 'model.safetensors')).size;
    expect(events).toContainEqual({stage: 'downloading model.safetensors', file: 'model.safetensors', done: size, total: size});
    expect(fs.readdirSync(model.dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);

    hub.requests.length = 0;
    for (const options of [{}, {download: true}]) {
      const again = await loadModel('shared/llama2xs', {...options, threads: 1});
      expect(again.dir).toBe(model.dir);
      again.dispose();
    }
    const folder = await loadModel(path.join(home, 'hub', 'models--shared--llama2xs'), {threads: 1});
    expect(folder.dir).toBe(model.dir);
    folder.dispose();
    expect(hub.requests).toEqual([]); // offline first: a cached snapshot is used without asking the Hub
  });

  it('HF_HUB_OFFLINE=1 forbids the download and says so', async () => {
    process.env['HF_HUB_OFFLINE'] = '1';
    await expect(loadModel('shared/llama2xs', {download: true})).rejects.toThrow(/HF_HUB_OFFLINE is set, so it cannot be downloaded/);
    await expect(pullModel('shared/llama2xs')).rejects.toThrow(/^shared\/llama2xs: HF_HUB_OFFLINE is set, so nothing is downloaded/);
    expect(hub.requests).toEqual([]);
  });

  it('calibrate takes the id and names the bundle after the model, not the snapshot commit', async () => {
    await pullModel('shared/llama2xs');
    const cwd = process.cwd();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-hub-cal-'));
    process.chdir(work);
    try {
      const r = await calibrate({...QUICK_OPTIONS, model: 'shared/llama2xs'});
      expect(fs.realpathSync(r.bundle)).toBe(fs.realpathSync(path.join(work, 'llama2xs.hire')));
    } finally {
      process.chdir(cwd);
      fs.rmSync(work, {recursive: true, force: true});
    }
  });

  it('bench takes the id', async () => {
    const report = await bench({model: 'shared/llama2xs', download: true, tokens: 2, promptTokens: 2, probe: false, threads: 1});
    expect(report.rows.length).toBeGreaterThan(0);
  });
});

describe('a HiRE bundle from the Hub', () => {
  it('pullModel fetches hire.json and hire.safetensors beside the model, and loadBundle takes the id', async () => {
    const pulled = await pullModel('hire-demo/shakespeare-topk-hire');
    expect(pulled.files.map((f) => f.file).sort()).toEqual(fs.readdirSync(demo.bundle).sort());
    const model = await loadBundle('hire-demo/shakespeare-topk-hire', {threads: 1});
    try {
      expect(model.bundle).not.toBeNull();
      expect((await resolveModel('hire-demo/shakespeare-topk-hire')).repo).toEqual({id: 'hire-demo/shakespeare-topk-hire', revision: 'main', commit: pulled.commit});
    } finally {
      model.dispose();
    }
  });

  it('pullModel refuses a reference that is not an id', async () => {
    await expect(pullModel('./models/x')).rejects.toMatchObject({code: 'E_USAGE', option: 'model'});
  });
});
