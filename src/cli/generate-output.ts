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

/** Decodes one prompt, streaming its text unless `json`; returns the generation's result. */
export async function streamGeneration(model: HireModel, prompt: Prompt, options: GenerateOptions, json: boolean): Promise<GenerationResult> {
  // generate() checks the prompt and every option before anything is printed
  const gen = generate(model, prompt, options);
  const write = (s: string) => {
    if (!json && s) process.stdout.write(s);
  };
  write(typeof prompt === 'string' ? prompt : '');
  if (!json) note(`hire: ${gen.output.describe}`);
  if (!json && model.ffnInfo) note(`hire: ${model.ffnInfo}`);
  let streamed = 0;
  for await (const chunk of gen) {
    streamed += chunk.text.length;
    write(chunk.text);
  }
  const r = await gen.complete();
  write(r.text.slice(streamed)); // an incomplete character at the very end
  if (json) return r;
  process.stdout.write('\n');
  for (const line of generationStats(r, model.backendInfo, options.certify === true)) note(line);
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
