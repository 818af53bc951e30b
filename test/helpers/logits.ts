/** Logits at every position of a token sequence, decoded one token at a time with a KV cache. */
import {Session, type OpenOptions} from '../../src/core/engine/session.js';

export async function logitsOver(
  dir: string,
  backend: string,
  tokens: readonly number[],
  opts: {open?: OpenOptions; setup?: (s: Session) => Promise<void> | void} = {},
): Promise<Float32Array[]> {
  const s = await Session.open(dir, {tokenizer: 'none', ...opts.open, backend});
  try {
    await opts.setup?.(s);
    const cache = s.model.createCache(tokens.length);
    const out: Float32Array[] = [];
    for (let pos = 0; pos < tokens.length; pos++) out.push(await s.backend.read(await s.model.forward(tokens[pos]!, pos, cache)));
    return out;
  } finally {
    s.dispose();
  }
}
