/**
 * The model card (README.md) of the bundled demo model, rendered from the training summaries.
 */
import type {BigramResult} from './bigram.js';
import {parameterCount} from './model.js';
import type {RunSummary, TokenizerSummary} from './pipeline.js';
import type {Benchmark} from './train.js';

export interface CardInput {
  tokenizer: TokenizerSummary;
  bench: Benchmark | null;
  topk: RunSummary;
  dense: RunSummary;
  bigram: BigramResult & {bitsPerByte: number};
  samples: {prompt: string; greedy: string; sampled: string};
  /** The command that reproduces the run. */
  command: string;
}

const fmt = (x: number, digits = 3) => x.toFixed(digits);

function resultRow(name: string, loss: number, ppl: number, bpb: number): string {
  return `| ${name} | ${fmt(loss)} | ${fmt(ppl, 2)} | ${fmt(bpb)} |`;
}

function fence(text: string): string {
  return ['```text', text.replace(/```/g, "'''"), '```'].join('\n');
}

export function renderModelCard(c: CardInput): string {
  const log = c.topk.log;
  const s = log.shape;
  const params = parameterCount(s);
  const tokensSeen = log.stepsDone * log.options.batchSize * s.contextLength;
  const k = Math.max(1, Math.round((s.ffnTopK ?? 1) * s.hiddenDim));
  const minutes = (x: number) => `${(x / 60).toFixed(1)} min`;
  const stopNote = (r: RunSummary) => (r.log.stoppedByTimeBudget ? ` (stopped by the time budget at step ${r.log.stepsDone} of ${r.log.totalSteps})` : '');
  return `# shakespeare-topk

A tiny Llama-layout language model trained on Tiny Shakespeare with a **top-k FFN**: in every
layer only the k = ${k} of ${s.hiddenDim} FFN hidden activations (${(100 * (s.ffnTopK ?? 1)).toFixed(0)}%) with the largest
magnitude are kept, during training as at inference, as in the HiRE paper. It is the model that
ships with \`hire\`: small enough to ship (${((params * 4) / 1e6).toFixed(1)} MB of F32 weights) and trained so that
HiRE-FFN's sparsity is the model itself, not an approximation.

## Model

| | |
|---|---|
| layout | LlamaForCausalLM: RMSNorm (eps ${s.normEps}), RoPE (theta ${s.ropeTheta}, rotate_half), causal multi-head attention, gated FFN, tied embeddings |
| size | hidden ${s.dim}, ${s.nLayers} layers, ${s.nHeads} heads of ${s.dim / s.nHeads}, FFN ${s.hiddenDim}, context ${s.contextLength}, vocabulary ${s.vocabSize} |
| parameters | ${params.toLocaleString('en-US')} (${((params * 4) / 1e6).toFixed(2)} MB in F32) |
| FFN | y = down(topk(relu(gate x) * up x)); topk keeps the k = max(1, round(hire_ffn_topk * intermediate_size)) = ${k} entries of largest magnitude per token and zeros the rest |
| config keys | \`hidden_act: "relu"\` and the extra key \`hire_ffn_topk: ${s.ffnTopK}\` (share of FFN hidden activations kept). hire's decoder applies it; other Llama implementations ignore it and would run the FFN dense, which is not the function this model was trained as |
| tokenizer | byte-level BPE (GPT-2 pre-tokenizer and byte map), ${c.tokenizer.vocabSize} tokens incl. \`<\\|bos\\|>\` = 0 and \`<\\|eos\\|>\` = 1, trained on the train split in ${fmt(c.tokenizer.seconds, 1)} s; encodes any UTF-8 text and decodes it back exactly. No BOS is added: the model was trained on windows cut from running text |

## Data

\`data/tinyshakespeare.txt\` (1.1 MB), split by \`splitText\` in \`src/core/tasks/corpus.ts\`: the first 90%
(to a line break) for training, the rest for validation. Training: ${log.stepsDone.toLocaleString('en-US')} steps of ${log.options.batchSize} random
windows of ${s.contextLength} tokens (${(tokensSeen / 1e6).toFixed(2)}M tokens seen). Validation: all ${log.final.tokens.toLocaleString('en-US')} next-token
targets of the validation split, in consecutive non-overlapping windows of ${s.contextLength} tokens.

## Results (validation split)

| model | loss (nats/token) | perplexity | bits/byte |
|---|---|---|---|
${resultRow(`top-k FFN (${s.ffnTopK}), this model`, log.final.loss, log.final.perplexity, c.topk.bitsPerByte)}
${resultRow('same architecture, dense FFN, trained the same way', c.dense.log.final.loss, c.dense.log.final.perplexity, c.dense.bitsPerByte)}
${resultRow(`bigram, add-${c.bigram.alpha} smoothing (alpha chosen on held-out train)`, c.bigram.loss, c.bigram.perplexity, c.bigram.bitsPerByte)}

All three use the same tokenizer and score the same target tokens. The dense model has the same
seed, data order, steps and schedule; only the FFN mask differs. Its weights are not shipped.

## Training

AdamW (betas ${log.options.adamw.beta1}/${log.options.adamw.beta2}, weight decay ${log.options.adamw.weightDecay} on matrices), peak learning rate
${log.options.peakLr} with ${log.options.warmupSteps} warmup steps and cosine decay to ${log.options.minLrRatio * 100}%, gradient clipping at norm ${log.options.adamw.clipNorm},
seed ${log.options.seed}, F32. tfjs-core on its ${c.topk.engine} engine (one core per model; both models trained
side by side on a 2-core machine), autodiff, the top-k mask held constant in the backward pass.

| | top-k | dense |
|---|---|---|
| steps | ${c.topk.log.stepsDone}${stopNote(c.topk)} | ${c.dense.log.stepsDone}${stopNote(c.dense)} |
| training time | ${minutes(c.topk.log.seconds.training)} | ${minutes(c.dense.log.seconds.training)} |
| total time incl. evaluation | ${minutes(c.topk.log.seconds.total)} | ${minutes(c.dense.log.seconds.total)} |
| throughput | ${fmt(c.topk.log.stepsPerSecond, 2)} steps/s, ${c.topk.log.tokensPerSecond.toFixed(0)} tokens/s | ${fmt(c.dense.log.stepsPerSecond, 2)} steps/s, ${c.dense.log.tokensPerSecond.toFixed(0)} tokens/s |
| final training loss (mean of last 100 steps) | ${fmt(tailMean(c.topk.log.trainLoss))} | ${fmt(tailMean(c.dense.log.trainLoss))} |

The loss curves are in \`training_log.json\` (every step's training loss, learning rate and
gradient norm; the quick validation loss every ${log.options.evalEvery} steps on ${log.options.evalWindows} fixed windows).

## Samples

From our decoder (\`--backend reference\`), prompt \`${c.samples.prompt}\`, 100 tokens.

Greedy:

${fence(c.samples.greedy)}

Sampled (temperature 0.8, top-p 0.95, seed 42):

${fence(c.samples.sampled)}

## Use

\`\`\`sh
hire generate models/shakespeare-topk --prompt "ROMEO:" --max-tokens 100
\`\`\`

The context is ${s.contextLength} tokens (max_position_embeddings): prompt and continuation together.

## Retrain

\`\`\`sh
npm run build
${c.command}
\`\`\`

Deterministic for a given \`--steps\` and \`--seed\` on the same tfjs-wasm build (single-threaded).
Without \`--steps\` the script times both models first and picks the steps that fit \`--minutes\`.

## Limitations

A 1.1 MB corpus and ${(params / 1e6).toFixed(1)}M parameters: the text has Shakespeare's look (names, verse lines,
archaic words) but not his sense. It exists to exercise HiRE on a model whose FFN is top-k sparse by
training, not as a language model for any other use.
`;
}

function tailMean(xs: number[]): number {
  const tail = xs.slice(-100);
  return tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length);
}
