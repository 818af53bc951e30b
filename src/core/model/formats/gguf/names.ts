/**
 * The one table between Hugging Face tensor names (Llama, Mistral, Qwen2) and GGUF's, read by the
 * GGUF loader (model.ts) and written by the GGUF writer (writer.ts), so the two cannot disagree.
 */

const GLOBAL: Array<[string, string]> = [
  ['model.embed_tokens.weight', 'token_embd.weight'],
  ['model.norm.weight', 'output_norm.weight'],
  ['lm_head.weight', 'output.weight'],
];

const LAYER: Array<[string, string]> = [
  ['input_layernorm.weight', 'attn_norm.weight'],
  ['self_attn.q_proj.weight', 'attn_q.weight'],
  ['self_attn.k_proj.weight', 'attn_k.weight'],
  ['self_attn.v_proj.weight', 'attn_v.weight'],
  ['self_attn.o_proj.weight', 'attn_output.weight'],
  ['self_attn.q_proj.bias', 'attn_q.bias'],
  ['self_attn.k_proj.bias', 'attn_k.bias'],
  ['self_attn.v_proj.bias', 'attn_v.bias'],
  ['self_attn.o_proj.bias', 'attn_output.bias'],
  ['post_attention_layernorm.weight', 'ffn_norm.weight'],
  ['mlp.gate_proj.weight', 'ffn_gate.weight'],
  ['mlp.up_proj.weight', 'ffn_up.weight'],
  ['mlp.down_proj.weight', 'ffn_down.weight'],
];

/** HF name -> GGUF name for every tensor a model of nLayers layers may have (present or not). */
export function llamaTensorNames(nLayers: number): Map<string, string> {
  const map = new Map(GLOBAL);
  for (let i = 0; i < nLayers; i++) for (const [hf, gg] of LAYER) map.set(`model.layers.${i}.${hf}`, `blk.${i}.${gg}`);
  return map;
}
