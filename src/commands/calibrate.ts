import path from 'node:path';
import {Args, Flags} from '@oclif/core';
import {BaseCommand, warn} from '../cli/base-command.js';
import {formatBytes, makeTable} from '../cli/format.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {exitOnSignals} from '../cli/signals.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {calibrate} from '../api/calibrate.js';
import {DEFAULT_KS} from '../core/tasks/calibrate/calibrate.js';
import {parseIntList, parseNumber} from '../cli/parse.js';
import {SOFTMAX_KINDS, type SoftmaxKind} from '../core/hire/predictor/predictor.js';
import type {QuantBits} from '../core/numeric/quant.js';
import {DEMO_MODEL_DIR} from '../core/model/defaults.js';
import {TEXT_DATA, formatSize} from '../core/io/read-file.js';

export default class Calibrate extends BaseCommand {
  static override summary = 'Fit HiRE predictors on calibration text, measure their recall, and write a bundle.';
  static override description = `Runs the dense model over calibration text (default: the train split of the bundled Shakespeare corpus), collects the final hidden states, fits the softmax predictors (low-rank by plain truncated SVD and by the data-aware fit, int8/int4/int2 quantisation, and low-rank with a quantised factor), measures recall@k against k' on a held-out part of the text, and writes <out>/ with the model, hire.safetensors and hire.json (k' tables per recall target). Calibration picks the predictor that reads the fewest bytes per token at k=${32} and the --recall target. With --ffn it also calibrates HiRE-FFN: each layer's neurons are permuted so that co-active ones share a group, groups active on most tokens become the static set, a predictor of [W_gate; W_up] (W_in for non-gated FFNs) is fitted per layer, and k'_g (groups read per token) is measured per recall target; the bundle then stores the permuted weights with W_out as one row per neuron. The bundle hard-links the source's weight files when the file system allows (without --ffn), so the bundle's weights and the source's are one file: editing either edits both; --copy-weights copies them instead. The bundle is written to a temporary directory (<out>.hire-tmp-<pid>-<hex>) and renamed into place, so a failed or interrupted run (Ctrl-C, SIGTERM, SIGHUP) leaves nothing behind, and a later run removes what a killed one left. --force replaces only an existing hire bundle, never the model, the current directory or a directory holding either; --out is checked before any work starts.`;

  static override examples = [
    '<%= config.bin %> calibrate --out demo.hire',
    '<%= config.bin %> calibrate ../shared/models/llama2xs --out llama2xs.hire',
    '<%= config.bin %> calibrate ./my-model --data notes.txt --softmax lowrank+quant --rank 128 --bits 4 --recall 0.99',
    '<%= config.bin %> calibrate ./my-model --k 1,8,40 --tokens 16384 --json',
    '<%= config.bin %> calibrate --ffn --ffn-group-size 8 --out demo-ffn.hire',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory (default: the bundled demo model, models/shakespeare-topk).', required: false}),
  };

  static override optionFlags = {ks: 'k', 'ffn.kinds': 'ffn-kind', 'ffn.topK': 'ffn-topk', 'ffn.staticThreshold': 'ffn-static'};

  static override flags = {
    data: Flags.string({description: `Calibration text file (repeatable; default: the bundled corpus): a regular file of at most ${formatSize(TEXT_DATA.maxBytes)}. Its train split is used.`, multiple: true}),
    out: Flags.string({char: 'o', description: 'Bundle directory to write (default: <model name>.hire in the current directory). Its parent must exist.'}),
    force: Flags.boolean({
      description: 'Replace an existing bundle at --out: only a directory holding a hire bundle (hire.json), never the model, the current directory or a directory holding either.',
      default: false,
    }),
    'copy-weights': Flags.boolean({
      description: "Copy the model's weight files into the bundle (default: hard-link them when the file system allows, so editing one file edits both).",
      default: false,
    }),
    softmax: Flags.string({description: 'Predictor kinds to fit (repeatable; default: all).', options: [...SOFTMAX_KINDS], multiple: true}),
    rank: Flags.integer({description: 'Rank of the low-rank predictors (default: width/8, 8..256).', min: 1}),
    bits: Flags.string({description: 'Bits of the quantised predictors.', options: ['8', '4', '2']}),
    'group-size': Flags.integer({description: 'Columns per scale for --softmax quant (default 64).', min: 1}),
    k: Flags.string({description: `Top-k sizes to measure recall for (default ${DEFAULT_KS.join(',')}).`}),
    recall: Flags.string({description: 'Recall target used to choose the predictor (also stored with 0.9, 0.95, 0.99, 0.999).', default: '0.99'}),
    tokens: Flags.integer({description: 'Calibration tokens to use (fit + held out).', default: 4096, min: 80}),
    'seq-len': Flags.integer({description: 'Tokens per sequence while collecting hidden states.', default: 128, min: 1}),
    backend: Flags.string({char: 'b', description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`, default: 'cpu'}),
    threads: Flags.integer({description: 'Worker threads for the cpu backend.', min: 1}),
    seed: Flags.integer({description: 'Seed of the randomized SVD.', default: 1}),
    ffn: Flags.boolean({description: 'Also calibrate HiRE-FFN: per-layer predictors, neuron groups, static sets; the bundle then holds re-laid-out weights.', default: false}),
    'ffn-kind': Flags.string({description: 'FFN predictor kinds to try per layer (repeatable; default quant).', options: [...SOFTMAX_KINDS], multiple: true}),
    'ffn-bits': Flags.string({description: 'Bit widths tried for the FFN predictors, e.g. 4,8 (default 4,8; the cheaper one reaching --recall wins per layer).'}),
    'ffn-group-size': Flags.integer({description: 'Neurons per FFN group (1..32, must divide the FFN width).', default: 8, min: 1, max: 32}),
    'ffn-score': Flags.string({description: 'Group score from the predicted activations.', options: ['max', 'sum'], default: 'max'}),
    'ffn-topk': Flags.string({description: "Fraction of FFN neurons kept (default: the model's hire_ffn_topk, else 0.1)."}),
    'ffn-static': Flags.string({description: 'Groups active on more than this share of calibration tokens are always computed.', default: '0.5'}),
    'ffn-refine': Flags.integer({description: 'Random group swaps tried per neuron after the co-activation grouping (fewer groups active on the calibration text; on the demo it also cost held-out recall margin).', default: 0, min: 0, max: 1000}),
    'no-ffn-permute': Flags.boolean({description: 'Keep the neuron order (no co-activation permutation).', default: false}),
    json: Flags.boolean({description: 'Print the manifest (hire.json) as JSON.', default: false}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Calibrate);
    const progress = createProgress(!flags.json);
    let result;
    try {
      result = await exitOnSignals(() => calibrate({
        model: args.model ?? path.relative(process.cwd(), DEMO_MODEL_DIR),
        data: flags.data,
        out: flags.out,
        force: flags.force,
        copyWeights: flags['copy-weights'],
        softmax: flags.softmax as SoftmaxKind[] | undefined,
        rank: flags.rank,
        bits: flags.bits === undefined ? undefined : (Number(flags.bits) as QuantBits),
        groupSize: flags['group-size'],
        ks: flags.k === undefined ? undefined : parseIntList('--k', flags.k),
        recall: parseNumber('--recall', flags.recall),
        tokens: flags.tokens,
        seqLen: flags['seq-len'],
        backend: flags.backend,
        threads: flags.threads,
        seed: flags.seed,
        ffn: flags.ffn
          ? {
              kinds: flags['ffn-kind'] as SoftmaxKind[] | undefined,
              bits: flags['ffn-bits'] === undefined ? undefined : (parseIntList('--ffn-bits', flags['ffn-bits']) as (8 | 4)[]),
              groupSize: flags['ffn-group-size'],
              score: flags['ffn-score'] as 'max' | 'sum',
              topK: flags['ffn-topk'] === undefined ? undefined : parseNumber('--ffn-topk', flags['ffn-topk']),
              staticThreshold: parseNumber('--ffn-static', flags['ffn-static']),
              permute: !flags['no-ffn-permute'],
              refine: flags['ffn-refine'],
            }
          : null,
        onProgress: progressCallback(progress),
        onWarning: warn,
      }), () => progress.stop());
    } finally {
      progress.stop();
    }
    const m = result.manifest;
    if (flags.json) {
      this.log(JSON.stringify(m, null, 2));
      return;
    }
    const s = m.softmax!;
    const target = String(Number(flags.recall));
    const table = makeTable(['predictor', 'bytes/token', ...s.predictors[0]!.recall.ks.map((k) => `k'@${target} for k=${k}`), 'selected']);
    for (const p of s.predictors) {
      const kp = p.kPrime[target] ?? {};
      table.push([p.name, formatBytes(p.bytesPerToken), ...p.recall.ks.map((k) => String(kp[String(k)] ?? '-')), p.name === s.selected ? 'yes' : '']);
    }
    this.log(table.toString());
    if (m.ffn) {
      const f = m.ffn;
      const nGroups = f.layers[0] ? f.layers[0].groupActivity.length : 0;
      const ft = makeTable(['FFN layer', 'predictor', 'static groups', `k'_g@${target}`, `groups read of ${nGroups}`]);
      f.layers.forEach((l, i) => {
        const kp = l.kPrime[target];
        ft.push([String(i), l.predictor.name, String(l.nStatic), kp === null || kp === undefined ? 'all' : String(kp), String(l.nStatic + (kp ?? nGroups - l.nStatic))]);
      });
      this.log(ft.toString());
      this.log(`FFN: groups of ${f.groupSize} neurons, top-k ${f.topK}, ${f.permuted ? 'co-activation permutation' : 'original neuron order'}, static threshold ${f.staticThreshold}`);
    }
    this.log(`calibrated on ${m.calibration.fitTokens} tokens, recall measured on ${m.calibration.heldOutTokens} held-out tokens`);
    this.log(`wrote ${result.bundle}`);
  }
}
