/**
 * What `hire generate` shows while and after it decodes: the text on stdout as tokens arrive
 * (nothing under --json, whose object oclif prints from the command's return value), and what
 * the output layer is, statistics and device traffic on stderr.
 */
import type {BatchResult} from '../api/batch.js';
import {generate, type GenerationResult, type Prompt} from '../api/generate.js';
import type {HireModel} from '../api/model.js';
import type {GenerateOptions} from '../api/options.js';
import {note} from './base-command.js';
import {logprobLine} from './render-logprobs.js';

/**
 * How `hire generate` prints one generation: 'text' streams the text to stdout (statistics and
 * log-probabilities to stderr), 'json' nothing (oclif prints the returned result), 'jsonl' one
 * JSON line per token and a last line with the result.
 */
export type GenerateOutput = 'text' | 'json' | 'jsonl';

/** Decodes one prompt, printing it as `mode` says; returns the generation's result. */
export async function streamGeneration(model: HireModel, prompt: Prompt, options: GenerateOptions, mode: GenerateOutput): Promise<GenerationResult> {
  // generate() checks the prompt and every option before anything is printed
  const gen = generate(model, prompt, options);
  const text = mode === 'text';
  const write = (s: string) => {
    if (text && s) process.stdout.write(s);
  };
  write(typeof prompt === 'string' && options.system === undefined && !options.chat ? prompt : '');
  if (text) note(`hire: ${gen.output.describe}`);
  if (text && model.ffnInfo) note(`hire: ${model.ffnInfo}`);
  let streamed = 0;
  for await (const chunk of gen) {
    streamed += chunk.text.length;
    write(chunk.text);
    if (mode === 'jsonl') process.stdout.write(`${JSON.stringify({type: 'token', ...chunk})}\n`);
  }
  const r = await gen.complete();
  write(r.text.slice(streamed)); // an incomplete character at the very end
  if (mode === 'jsonl') process.stdout.write(`${JSON.stringify({type: 'result', ...r})}\n`);
  if (!text) return r;
  process.stdout.write('\n');
  for (const line of generationStats(r, model.backendInfo, options.certify === true)) note(line);
  if (r.logprobs) r.logprobs.forEach((l, i) => note(logprobLine(model.tokenString(r.tokenIds[i]!), r.tokenIds[i]!, l)));
  return r;
}

/** The statistics lines of one generation (stderr). */
function generationStats(r: GenerationResult, backend: string, certify: boolean): string[] {
  const s = r.stats;
  const lines = [
    `[${backend}] prompt ${s.promptTokens} tok at ${s.prefillTokensPerSecond.toFixed(1)} tok/s; ` +
      `generated ${s.generatedTokens} tok at ${s.decodeTokensPerSecond.toFixed(1)} tok/s; ` +
      `${(r.weightBytesPerToken! / 1e6).toFixed(2)} MB weights/token; stop: ${s.stopReason}`,
  ];
  if (r.devices) {
    const {traffic, ffn} = r.devices;
    const kb = (b: number) => `${(b / 1e3).toFixed(1)} KB`;
    lines.push(`moved between devices per token: ${kb(traffic.total)} (all-reduce ${kb(traffic.allReduce)}, output layer ${kb(traffic.softmax)})`);
    lines.push(`FFN weights read per token and device: ${ffn.bytesPerTokenPerDevice.map(kb).join(' / ')} (${ffn.sparse ? 'HiRE-FFN' : 'dense'}; dense ${kb(ffn.denseBytesPerTokenPerDevice[0]!)})`);
  }
  const o = r.output;
  if (certify) lines.push(`certified: k' widened on ${o.widenedSteps} of ${o.steps} steps (${o.widenings} doublings), mean ${o.meanCandidates.toFixed(1)} candidates`);
  return lines;
}

/** A batch's sequences, each after its prompt (stdout), and the batch's figures (stderr). */
export function printBatch(r: BatchResult, prompts: readonly Prompt[], backend: string): void {
  r.sequences.forEach((seq, b) => process.stdout.write(`[${b}] ${typeof prompts[b] === 'string' ? prompts[b] : ''}${seq.text}\n`));
  const groups = r.ffnGroups ? `; FFN groups per layer ${r.ffnGroups.batch.toFixed(1)} for the batch vs ${r.ffnGroups.perSequence.toFixed(1)} per sequence` : '';
  note(`[${backend}] batch of ${prompts.length}: ${r.tokensPerSecond.toFixed(1)} tok/s over all sequences; ${(r.weightBytesPerToken / 1e6).toFixed(2)} MB weights/token${groups}`);
}
