/**
 * Llama family: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM.
 * RMSNorm, RoPE (rotate_half layout), grouped-query attention, gated SiLU FFN.
 * Qwen2 always has q/k/v biases; Llama has them when attention_bias is true.
 */
import {ConfigReader, ModelConfig, RopeScaling, parseActivation, readFfnTopK, readFfnLayout, validateConfig} from '../config.js';
import {spec, WeightSpec} from '../weights.js';
import {Architecture, detectPrefix} from './architecture.js';

function parseRopeScaling(reader: ConfigReader): RopeScaling {
  const raw = reader.raw.json['rope_scaling'];
  if (raw === undefined || raw === null) return {kind: 'none'};
  if (typeof raw !== 'object' || Array.isArray(raw)) reader.fail('"rope_scaling" must be an object or null');
  const sub = new ConfigReader({file: reader.raw.file, json: raw as Record<string, unknown>});
  const type = sub.has('rope_type') ? sub.str('rope_type') : sub.str('type', 'default');
  switch (type) {
    case 'default':
      return {kind: 'none'};
    case 'linear':
      return {kind: 'linear', factor: sub.num('factor')};
    case 'llama3':
      return {
        kind: 'llama3',
        factor: sub.num('factor'),
        lowFreqFactor: sub.num('low_freq_factor'),
        highFreqFactor: sub.num('high_freq_factor'),
        originalMaxPositions: sub.int('original_max_position_embeddings'),
      };
    default:
      return reader.fail(`unsupported rope_scaling type "${type}"; supported: none, linear, llama3`);
  }
}

/**
 * Usable context. Sliding-window attention (Mistral, Qwen2 with use_sliding_window) is not
 * implemented, so the context is capped at the window, where full attention is still exact.
 */
function contextLength(reader: ConfigReader, architecture: string): number {
  const max = reader.size('max_position_embeddings', 2048);
  const windowed =
    (architecture === 'MistralForCausalLM' && reader.has('sliding_window')) ||
    (architecture === 'Qwen2ForCausalLM' && reader.bool('use_sliding_window', false) && reader.has('sliding_window'));
  return windowed ? Math.min(max, reader.int('sliding_window')) : max;
}

export const llama: Architecture = {
  family: 'llama',
  classes: ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'],
  modelTypes: ['llama', 'mistral', 'qwen2'],

  parseConfig(reader, architecture) {
    const dim = reader.size('hidden_size');
    const nHeads = reader.size('num_attention_heads');
    const isQwen2 = architecture === 'Qwen2ForCausalLM';
    const isLlama = architecture === 'LlamaForCausalLM'; // only Llama has attention_bias / mlp_bias
    const config: ModelConfig = {
      family: 'llama',
      architecture,
      dim,
      hiddenDim: reader.size('intermediate_size'),
      nLayers: reader.size('num_hidden_layers'),
      nHeads,
      nKvHeads: reader.size('num_key_value_heads', nHeads),
      headDim: reader.size('head_dim', nHeads > 0 ? Math.floor(dim / nHeads) : 0),
      vocabSize: reader.size('vocab_size'),
      maxSeqLen: contextLength(reader, architecture),
      embedDim: dim,
      norm: 'rmsnorm',
      normEps: reader.num('rms_norm_eps', 1e-6),
      preNorm: true,
      finalNorm: true,
      activation: parseActivation(reader, 'hidden_act', 'silu'),
      gatedFfn: true,
      qkvBias: isQwen2 || (isLlama && reader.bool('attention_bias', false)),
      outBias: isLlama && reader.bool('attention_bias', false),
      ffnBias: isLlama && reader.bool('mlp_bias', false),
      positions: {kind: 'rope', theta: reader.num('rope_theta', 10000), scaling: parseRopeScaling(reader)},
      tiedEmbeddings: reader.bool('tie_word_embeddings', false),
      ffnTopK: readFfnTopK(reader),
      ffnLayout: readFfnLayout(reader),
      bosTokenId: reader.ids('bos_token_id')[0] ?? null,
      eosTokenIds: reader.ids('eos_token_id'),
      torchDtype: reader.has('torch_dtype') ? reader.str('torch_dtype') : null,
    };
    return validateConfig(config, reader.raw.file);
  },

  weightSpecs(c, names) {
    const root = detectPrefix(names, ['model.', ''], 'embed_tokens.weight');
    const q = c.nHeads * c.headDim;
    const kv = c.nKvHeads * c.headDim;
    const specs: WeightSpec[] = [spec.matrix('embed', `${root}embed_tokens.weight`, [c.vocabSize, c.dim])];
    for (let i = 0; i < c.nLayers; i++) {
      const p = `${root}layers.${i}.`;
      const k = `layers.${i}.`;
      specs.push(
        spec.vector(`${k}attnNorm.weight`, `${p}input_layernorm.weight`, c.dim),
        spec.matrix(`${k}wq`, `${p}self_attn.q_proj.weight`, [q, c.dim]),
        spec.matrix(`${k}wk`, `${p}self_attn.k_proj.weight`, [kv, c.dim]),
        spec.matrix(`${k}wv`, `${p}self_attn.v_proj.weight`, [kv, c.dim]),
        spec.matrix(`${k}wo`, `${p}self_attn.o_proj.weight`, [c.dim, q]),
        spec.vector(`${k}ffnNorm.weight`, `${p}post_attention_layernorm.weight`, c.dim),
        spec.matrix(`${k}wGate`, `${p}mlp.gate_proj.weight`, [c.hiddenDim, c.dim]),
        spec.matrix(`${k}wUp`, `${p}mlp.up_proj.weight`, [c.hiddenDim, c.dim]),
        spec.matrix(`${k}wDown`, `${p}mlp.down_proj.weight`, [c.dim, c.hiddenDim]),
      );
      if (c.qkvBias) {
        specs.push(
          spec.vector(`${k}bq`, `${p}self_attn.q_proj.bias`, q),
          spec.vector(`${k}bk`, `${p}self_attn.k_proj.bias`, kv),
          spec.vector(`${k}bv`, `${p}self_attn.v_proj.bias`, kv),
        );
      }
      if (c.outBias) specs.push(spec.vector(`${k}bo`, `${p}self_attn.o_proj.bias`, c.dim));
      if (c.ffnBias) {
        specs.push(
          spec.vector(`${k}bGate`, `${p}mlp.gate_proj.bias`, c.hiddenDim),
          spec.vector(`${k}bUp`, `${p}mlp.up_proj.bias`, c.hiddenDim),
          spec.vector(`${k}bDown`, `${p}mlp.down_proj.bias`, c.dim),
        );
      }
    }
    specs.push(spec.vector('finalNorm.weight', `${root}norm.weight`, c.dim));
    if (!c.tiedEmbeddings) specs.push(spec.matrix('lmHead', 'lm_head.weight', [c.vocabSize, c.dim]));
    return specs;
  },
};
