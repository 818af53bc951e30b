/**
 * Where test data from ../shared lives, and the one rule for using it: a test that needs it
 * skips with a printed reason only when ../shared is absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_DIR = path.resolve(PROJECT_ROOT, '../shared');
export const LLAMA2XS_DIR = path.join(SHARED_DIR, 'models/llama2xs');
export const HAVE_SHARED = fs.existsSync(SHARED_DIR);

if (!HAVE_SHARED) {
  console.warn(`[skip] ${SHARED_DIR} is absent: tests that need the shared models and corpus are skipped`);
}

export interface Llama2xsReference {
  prompt: string;
  prompt_token_ids: number[];
  greedy_token_ids: number[];
  greedy_text: string;
  first_step_top10_logits: Array<[number, number]>;
}

export function readLlama2xsReference(): Llama2xsReference {
  return JSON.parse(fs.readFileSync(path.join(LLAMA2XS_DIR, 'REFERENCE.json'), 'utf8')) as Llama2xsReference;
}
