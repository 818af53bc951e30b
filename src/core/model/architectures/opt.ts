/**
 * OPT (OPTForCausalLM): LayerNorm, ReLU FFN (fc1/fc2), learned positions looked up at pos + 2,
 * pre-norm or post-norm (do_layer_norm_before), and project_in/project_out when
 * word_embed_proj_dim differs from hidden_size (opt-350m). lm_head is tied to embed_tokens.
 */
import {ModelConfig, parseActivation, readFfnTopK, readFfnLayout, validateConfig} from '../config.js';
import {spec, WeightSpec} from '../weights.js';
import {Architecture, detectPrefix} from './architecture.js';

/** OPT's learned position table is offset by 2 rows (a fairseq legacy of padding ids). */
export const OPT_POSITION_OFFSET = 2;

export const opt: Architecture = {
  family: 'opt',
  classes: ['OPTForCausalLM'],
  modelTypes: ['opt'],

  parseConfig(reader, architecture) {
    const dim = reader.size('hidden_size');
    const nHeads = reader.size('num_attention_heads');
    const preNorm = reader.bool('do_layer_norm_before', true);
    const bias = reader.bool('enable_bias', true);
    if (!reader.bool('layer_norm_elementwise_affine', true)) {
      reader.fail('layer_norm_elementwise_affine = false is not supported');
    }
    const config: ModelConfig = {
      family: 'opt',
      architecture,
      dim,
      hiddenDim: reader.size('ffn_dim'),
      nLayers: reader.size('num_hidden_layers'),
      nHeads,
      nKvHeads: nHeads,
      headDim: nHeads > 0 ? Math.floor(dim / nHeads) : 0,
      vocabSize: reader.size('vocab_size'),
      maxSeqLen: reader.size('max_position_embeddings', 2048),
      embedDim: reader.size('word_embed_proj_dim', dim),
      norm: 'layernorm',
      normEps: 1e-5,
      preNorm,
      finalNorm: preNorm && !reader.bool('_remove_final_layer_norm', false),
      activation: parseActivation(reader, 'activation_function', 'relu'),
      gatedFfn: false,
      qkvBias: bias,
      outBias: bias,
      ffnBias: bias,
      positions: {kind: 'learned', offset: OPT_POSITION_OFFSET},
      tiedEmbeddings: reader.bool('tie_word_embeddings', true),
      ffnTopK: readFfnTopK(reader),
      ffnLayout: readFfnLayout(reader),
      bosTokenId: reader.ids('bos_token_id')[0] ?? null,
      eosTokenIds: reader.ids('eos_token_id'),
      torchDtype: reader.has('torch_dtype') ? reader.str('torch_dtype') : null,
    };
    if (config.headDim * nHeads !== dim) reader.fail(`hidden_size (${dim}) must be divisible by num_attention_heads (${nHeads})`);
    return validateConfig(config, reader.raw.file);
  },

  weightSpecs(c, names) {
    const root = detectPrefix(names, ['model.decoder.', 'decoder.'], 'embed_tokens.weight');
    const d = c.dim;
    const specs: WeightSpec[] = [
      spec.matrix('embed', `${root}embed_tokens.weight`, [c.vocabSize, c.embedDim]),
      spec.matrix('positions', `${root}embed_positions.weight`, [c.maxSeqLen + OPT_POSITION_OFFSET, d]),
    ];
    if (c.embedDim !== d) {
      specs.push(
        spec.matrix('projectIn', `${root}project_in.weight`, [d, c.embedDim]),
        spec.matrix('projectOut', `${root}project_out.weight`, [c.embedDim, d]),
      );
    }
    const linear = (key: string, name: string, out: number, inp: number) => {
      specs.push(spec.matrix(key, `${name}.weight`, [out, inp]));
    };
    for (let i = 0; i < c.nLayers; i++) {
      const p = `${root}layers.${i}.`;
      const k = `layers.${i}.`;
      specs.push(spec.vector(`${k}attnNorm.weight`, `${p}self_attn_layer_norm.weight`, d));
      specs.push(spec.vector(`${k}attnNorm.bias`, `${p}self_attn_layer_norm.bias`, d));
      linear(`${k}wq`, `${p}self_attn.q_proj`, d, d);
      linear(`${k}wk`, `${p}self_attn.k_proj`, d, d);
      linear(`${k}wv`, `${p}self_attn.v_proj`, d, d);
      linear(`${k}wo`, `${p}self_attn.out_proj`, d, d);
      specs.push(spec.vector(`${k}ffnNorm.weight`, `${p}final_layer_norm.weight`, d));
      specs.push(spec.vector(`${k}ffnNorm.bias`, `${p}final_layer_norm.bias`, d));
      linear(`${k}wUp`, `${p}fc1`, c.hiddenDim, d);
      linear(`${k}wDown`, `${p}fc2`, d, c.hiddenDim);
      if (c.qkvBias) {
        specs.push(
          spec.vector(`${k}bq`, `${p}self_attn.q_proj.bias`, d),
          spec.vector(`${k}bk`, `${p}self_attn.k_proj.bias`, d),
          spec.vector(`${k}bv`, `${p}self_attn.v_proj.bias`, d),
          spec.vector(`${k}bo`, `${p}self_attn.out_proj.bias`, d),
          spec.vector(`${k}bUp`, `${p}fc1.bias`, c.hiddenDim),
          spec.vector(`${k}bDown`, `${p}fc2.bias`, d),
        );
      }
    }
    if (c.finalNorm) {
      specs.push(
        spec.vector('finalNorm.weight', `${root}final_layer_norm.weight`, d),
        spec.vector('finalNorm.bias', `${root}final_layer_norm.bias`, d),
      );
    }
    if (!c.tiedEmbeddings) specs.push(spec.matrix('lmHead', 'lm_head.weight', [c.vocabSize, c.embedDim]));
    return specs;
  },
};
