/** The model card: every reported figure comes from the summaries it is given. */
import {describe, expect, it} from 'vitest';
import {DEFAULT_SHAPE} from '../../../../src/core/tasks/train/model.js';
import {renderModelCard} from '../../../../src/core/tasks/train/model-card.js';
import type {RunSummary} from '../../../../src/core/tasks/train/pipeline.js';
import {DEFAULT_TRAIN, type TrainLog} from '../../../../src/core/tasks/train/train.js';

function summary(ffnTopK: number | null, loss: number, stopped = false): RunSummary {
  const {onProgress: _, ...options} = {...DEFAULT_TRAIN, steps: 2000, onProgress: undefined};
  const log: TrainLog = {
    shape: {...DEFAULT_SHAPE, ffnTopK}, parameters: 1574016, options, totalSteps: 2000, stepsDone: stopped ? 1900 : 2000,
    stoppedByTimeBudget: stopped, trainLoss: [4.5, 4.1], lr: [1e-3, 2e-4], gradNorm: [1, 1], evals: [{step: 100, loss: 5, seconds: 100}],
    final: {loss, perplexity: Math.exp(loss), tokens: 38400}, seconds: {total: 2300, training: 2200, evaluation: 60},
    stepsPerSecond: 0.9, tokensPerSecond: 1850,
  };
  return {outDir: 'x', log, bitsPerByte: loss / Math.LN2 / 2.9, engine: 'wasm (simd)'};
}

describe('model card', () => {
  it('reports top-k, dense and bigram figures, the samples and the rerun command', () => {
    const card = renderModelCard({
      tokenizer: {vocabSize: 4096, merges: 3838, seconds: 0.3, trainChars: 1003854},
      bench: null,
      topk: summary(0.1, 4.2),
      dense: summary(null, 4.25, true),
      bigram: {alpha: 0.01, loss: 5.089, perplexity: 162.2, tokens: 38400, bitsPerByte: 2.53},
      samples: {prompt: 'ROMEO:', greedy: 'ROMEO: greedy text', sampled: 'ROMEO: sampled ``` text'},
      command: 'npm run train:demo -- --minutes 40 --steps 2000 --seed 1234',
    });
    expect(card).toContain(`| 4.200 | ${Math.exp(4.2).toFixed(2)} |`);
    expect(card).toContain(`| 4.250 | ${Math.exp(4.25).toFixed(2)} |`);
    expect(card).toContain('| 5.089 | 162.20 | 2.530 |');
    expect(card).toContain('hire_ffn_topk: 0.1');
    expect(card).toContain('k = 51 of 512');
    expect(card).toContain('stopped by the time budget at step 1900 of 2000');
    expect(card).toContain('ROMEO: greedy text');
    expect(card).toContain("ROMEO: sampled ''' text"); // a fence inside a sample cannot close the block
    expect(card).toContain('npm run train:demo -- --minutes 40 --steps 2000 --seed 1234');
  });
});
