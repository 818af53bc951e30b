/**
 * The bundled demo model and its HiRE bundle: every command works with no model argument, and
 * generate decodes sparsely out of the box, saying so on stderr.
 */
import {describe, expect, it} from 'vitest';
import {DEMO_BUNDLE_DIR} from '../../src/core/model/defaults.js';
import {readManifest} from '../../src/core/hire/bundle/bundle.js';
import {runCli} from '../helpers/cli.js';
import {configOf} from '../helpers/bundles.js';
import {slidingWindows} from '../../src/core/tasks/evaluate/windows.js';
import {StageProgress} from '../../src/core/tasks/progress.js';
import {evaluateFfn} from '../../src/core/tasks/evaluate/ffn-evaluate.js';
import {readCorpus} from '../../src/core/tasks/corpus.js';
import {Session} from '../../src/core/engine/session.js';

describe('the bundled demo model', () => {
  it('generate with no model decodes the demo bundle with HiRE and says so', () => {
    const r = runCli(['generate', '--prompt', 'ROMEO:', '--max-tokens', '24', '--seed', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('ROMEO:')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan(40);
    expect(r.stderr).toMatch(/^hire: HiRE softmax \(/m);
    expect(r.stderr).toMatch(/^hire: HiRE FFN \(/m);
  });

  it('the demo bundle meets the HiRE-FFN goal: recall >= 0.99 at the stored k\'_g, perplexity within 1% of exact top-k', async () => {
    // What `hire eval` measures for HiRE-FFN, at the 0.99 target only (eval scores every target
    // and the softmax predictors too), on one thread (the numbers do not depend on the count).
    const session = await Session.open(DEMO_BUNDLE_DIR, {backend: 'cpu', threads: 1});
    try {
      const ffn = readManifest(DEMO_BUNDLE_DIR, configOf(DEMO_BUNDLE_DIR)).ffn!;
      const text = readCorpus(undefined, 'validation').text;
      const ids = session.tokenizer!.encode(text, {addSpecialTokens: false}).slice(0, 1024);
      const report = await evaluateFfn(session, DEMO_BUNDLE_DIR, {...ffn, recallTargets: [0.99]}, ids, slidingWindows(ids.length, 128, 64), new StageProgress(() => {}, 1));
      const rows = report.rows;
      expect(rows[0]!.label).toMatch(/exact top-k/);
      const at99 = rows.find((r) => r.target === 0.99)!;
      expect(at99.recall!).toBeGreaterThanOrEqual(0.99);
      expect(Math.abs(at99.perplexityChange)).toBeLessThan(0.01);
      expect(at99.bytesPerToken).toBeLessThan(rows[0]!.bytesPerToken);
    } finally {
      session.dispose();
    }
  });

  it('certified greedy output equals dense greedy output, token for token', () => {
    const args = ['generate', '--prompt', 'ROMEO:', '--max-tokens', '48', '--temperature', '0', '--json'];
    const dense = JSON.parse(runCli([...args, '--dense']).stdout);
    const certified = JSON.parse(runCli([...args, '--certify']).stdout);
    expect(dense.output.kind).toBe('dense');
    expect(certified.output.kind).toBe('hire');
    expect(certified.tokenIds).toEqual(dense.tokenIds);
    expect(certified.tokenIds).toHaveLength(48);
  });

  it('the committed bundle matches the committed model and holds a k\' table', () => {
    const m = readManifest(DEMO_BUNDLE_DIR, configOf(DEMO_BUNDLE_DIR));
    const selected = m.softmax!.predictors.find((p) => p.name === m.softmax!.selected)!;
    expect(selected.kPrime['0.99']!['1']).toBeGreaterThanOrEqual(1);
    // recall@1 and recall@32 at the k' calibration chose for 0.99 reach the target on held-out text
    for (const k of [1, 32]) {
      const a = selected.recall.ks.indexOf(k);
      const b = selected.recall.kPrimes.indexOf(selected.kPrime['0.99']![String(k)]!);
      expect(selected.recall.mean[a]![b]).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('inspect and eval work with no model argument', () => {
    const inspect = runCli(['inspect', 'models/shakespeare-topk', '--json', '--no-tensors']);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout).config.ffnTopK).toBe(0.1);
    const ev = runCli(['eval', '--tokens', '64', '--k', '1', '--json', '--threads', '1']);
    expect(ev.code).toBe(0);
    const report = JSON.parse(ev.stdout);
    expect(report.rows.length).toBeGreaterThan(0);
    expect(report.dense.perplexity).toBeGreaterThan(1);
  });
});
