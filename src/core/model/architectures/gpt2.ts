/**
 * GPT-2 (GPT2LMHeadModel): LayerNorm, learned absolute positions, fused q/k/v, gelu (tanh form)
 * FFN, tied embeddings. Its Conv1D layers store weights as [in, out]; we transpose every one of
 * them to [out, in]: c_attn (then split into q, k, v), attn.c_proj, mlp.c_fc, mlp.c_proj.
 */
import {ModelConfig, parseActivation, readFfnTopK, readFfnLayout, validateConfig} from '../config.js';
import {spec, WeightSpec} from '../weights.js';
import {Architecture, detectPrefix} from './architecture.js';

export const gpt2: Architecture = {
  family: 'gpt2',
  classes: ['GPT2LMHeadModel'],
  modelTypes: ['gpt2'],

  parseConfig(reader, architecture) {
    if (!reader.bool('scale_attn_weights', true) || reader.bool('scale_attn_by_inverse_layer_idx', false)) {
      reader.fail('scale_attn_weights = false and scale_attn_by_inverse_layer_idx = true are not supported');
    }
    const dim = reader.size('n_embd');
    const nHeads = reader.size('n_head');
    const config: ModelConfig = {
      family: 'gpt2',
      architecture,
      dim,
      hiddenDim: reader.size('n_inner', 4 * dim),
      nLayers: reader.size('n_layer'),
      nHeads,
      nKvHeads: nHeads,
      headDim: nHeads > 0 ? Math.floor(dim / nHeads) : 0,
      vocabSize: reader.size('vocab_size'),
      maxSeqLen: reader.size('n_positions', 1024),
      embedDim: dim,
      norm: 'layernorm',
      normEps: reader.num('layer_norm_epsilon', 1e-5),
      preNorm: true,
      finalNorm: true,
      activation: parseActivation(reader, 'activation_function', 'gelu_new'),
      gatedFfn: false,
      qkvBias: true,
      outBias: true,
      ffnBias: true,
      positions: {kind: 'learned', offset: 0},
      tiedEmbeddings: true,
      ffnTopK: readFfnTopK(reader),
      ffnLayout: readFfnLayout(reader),
      bosTokenId: reader.ids('bos_token_id')[0] ?? null,
      eosTokenIds: reader.ids('eos_token_id'),
      torchDtype: reader.has('torch_dtype') ? reader.str('torch_dtype') : null,
    };
    if (config.headDim * nHeads !== dim) reader.fail(`n_embd (${dim}) must be divisible by n_head (${nHeads})`);
    return validateConfig(config, reader.raw.file);
  },

  weightSpecs(c, names) {
    const root = detectPrefix(names, ['transformer.', ''], 'wte.weight');
    const d = c.dim;
    const specs: WeightSpec[] = [
      spec.matrix('embed', `${root}wte.weight`, [c.vocabSize, d]),
      spec.matrix('positions', `${root}wpe.weight`, [c.maxSeqLen, d]),
    ];
    for (let i = 0; i < c.nLayers; i++) {
      const p = `${root}h.${i}.`;
      const k = `layers.${i}.`;
      const qkv = [d, 3 * d];
      specs.push(
        spec.vector(`${k}attnNorm.weight`, `${p}ln_1.weight`, d),
        spec.vector(`${k}attnNorm.bias`, `${p}ln_1.bias`, d),
        spec.matrix(`${k}wq`, `${p}attn.c_attn.weight`, qkv, {transpose: true, slice: [0, d]}),
        spec.matrix(`${k}wk`, `${p}attn.c_attn.weight`, qkv, {transpose: true, slice: [d, 2 * d]}),
        spec.matrix(`${k}wv`, `${p}attn.c_attn.weight`, qkv, {transpose: true, slice: [2 * d, 3 * d]}),
        spec.vector(`${k}bq`, `${p}attn.c_attn.bias`, 3 * d, {slice: [0, d]}),
        spec.vector(`${k}bk`, `${p}attn.c_attn.bias`, 3 * d, {slice: [d, 2 * d]}),
        spec.vector(`${k}bv`, `${p}attn.c_attn.bias`, 3 * d, {slice: [2 * d, 3 * d]}),
        spec.matrix(`${k}wo`, `${p}attn.c_proj.weight`, [d, d], {transpose: true}),
        spec.vector(`${k}bo`, `${p}attn.c_proj.bias`, d),
        spec.vector(`${k}ffnNorm.weight`, `${p}ln_2.weight`, d),
        spec.vector(`${k}ffnNorm.bias`, `${p}ln_2.bias`, d),
        spec.matrix(`${k}wUp`, `${p}mlp.c_fc.weight`, [d, c.hiddenDim], {transpose: true}),
        spec.vector(`${k}bUp`, `${p}mlp.c_fc.bias`, c.hiddenDim),
        spec.matrix(`${k}wDown`, `${p}mlp.c_proj.weight`, [c.hiddenDim, d], {transpose: true}),
        spec.vector(`${k}bDown`, `${p}mlp.c_proj.bias`, d),
      );
    }
    specs.push(
      spec.vector('finalNorm.weight', `${root}ln_f.weight`, d),
      spec.vector('finalNorm.bias', `${root}ln_f.bias`, d),
    );
    return specs;
  },
};
