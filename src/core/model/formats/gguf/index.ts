/** GGUF: the file reader, llama-family models under Hugging Face names, and the tokenizer from metadata. */
export {GgufFile, MAX_HEADER_BYTES, type GgufTensor, type GgufValue} from './file.js';
export {openGgufModel, unpermuteRows, GgufWeights, type GgufModel} from './model.js';
export {ggufTokenizer, type GgufTokenizer} from './tokenizer.js';
export {GGML_TYPES, GGML_TYPE_ID, GGUF_READABLE, GGUF_VALUE, type GgmlType} from './types.js';
export {dequantizeK, K_BLOCK_BYTES, type KQuant} from './k-quants.js';

import fs from 'node:fs';

/** True when `p` names a GGUF file: a regular file named *.gguf, or one that starts with "GGUF". */
export function isGgufPath(p: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return p.toLowerCase().endsWith('.gguf');
  }
  if (!st.isFile()) return false;
  if (p.toLowerCase().endsWith('.gguf')) return true;
  try {
    const fd = fs.openSync(p, 'r');
    try {
      const head = Buffer.alloc(4);
      return fs.readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'GGUF';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
