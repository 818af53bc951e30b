import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../cli/base-command.js';
import {verifyWeightsFlag} from '../cli/flags.js';
import {formatBytes, formatCount, makeTable} from '../cli/format.js';
import {isBundle} from '../core/hire/bundle/bundle.js';
import {checkBundle} from '../core/hire/bundle/identity.js';
import {inspectModel} from '../core/tasks/inspect.js';
import {openModel} from '../core/model/load.js';

export default class Inspect extends BaseCommand {
  static override summary = 'Show what a checkpoint holds: family, parameters, dtypes, bytes read per token, tensors.';
  static override description = `Reads config.json and the safetensors headers (no tensor data), checks every weight the architecture needs against its expected name and shape, and prints a summary and the tensor table. On a HiRE bundle it also checks every field of hire.json and that the weight files are the ones calibrated (size and a sampled fingerprint; the full sha256 with --verify-weights).`;

  static override examples = [
    '<%= config.bin %> inspect ../shared/models/llama2xs',
    '<%= config.bin %> inspect ./my-model --json',
    '<%= config.bin %> inspect ./my-model --no-tensors',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory (Hugging Face layout).', required: true}),
  };

  static override flags = {
    json: Flags.boolean({description: 'Print the report as JSON.', default: false}),
    'no-tensors': Flags.boolean({description: 'Leave out the tensor table.', default: false}),
    'verify-weights': verifyWeightsFlag,
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Inspect);
    const source = openModel(args.model);
    try {
      const bundle = isBundle(args.model) ? checkBundle(args.model, source.config, {verifyWeights: flags['verify-weights']}) : null;
      const report = {...inspectModel(source), bundle: bundle && {checked: bundle.verified}};
      if (flags.json) {
        this.log(JSON.stringify(flags['no-tensors'] ? {...report, tensors: undefined} : report, null, 2));
        return;
      }
      const c = report.config;
      const summary = makeTable();
      summary.push(
        {family: `${report.family} (${report.architecture})`},
        {parameters: formatCount(report.parameters)},
        {dtypes: Object.entries(report.bytesByDtype).map(([d, b]) => `${d} ${formatBytes(b!)}`).join(', ')},
        {'weight bytes / token': formatBytes(report.weightBytesPerToken)},
        {shape: `dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv, head ${c.headDim}), ffn ${c.hiddenDim}, vocab ${c.vocabSize}`},
        {positions: c.positions.kind === 'rope' ? `rope theta ${c.positions.theta}, scaling ${c.positions.scaling.kind}` : `learned (offset ${c.positions.offset})`},
        {'norm / act': `${c.norm} eps ${c.normEps}${c.preNorm ? '' : ' (post-norm)'}, ${c.activation}${c.gatedFfn ? ' gated' : ''}`},
        {'tied embeddings': String(c.tiedEmbeddings)},
        {context: String(c.maxSeqLen)},
        {files: report.files.join(', ')},
      );
      if (c.ffnTopK !== null) summary.push({'ffn top-k': `${(c.ffnTopK * 100).toFixed(1)}% of ${c.hiddenDim}`});
      if (c.ffnLayout === 'neuron-rows') summary.push({'ffn layout': 'W_out stored as neuron rows [ffn, dim] (a HiRE-FFN bundle)'});
      if (bundle) {
        const weights = bundle.verified.length ? `weights match it (${bundle.verified.join(', ')})` : 'it records no hashes of these weights';
        summary.push({'hire bundle': `hire.json checked; ${weights}`});
      }
      this.log(summary.toString());
      if (flags['no-tensors']) return;
      const table = makeTable(['tensor', 'dtype', 'shape', 'bytes', 'used as']);
      for (const t of report.tensors) {
        table.push([t.name, t.dtype, `[${t.shape.join(', ')}]`, formatBytes(t.bytes), t.usedAs.join(', ') || '(unused)']);
      }
      this.log(table.toString());
    } finally {
      source.checkpoint.close();
    }
  }
}
