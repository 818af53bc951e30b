import {Args, Flags} from '@oclif/core';
import {inspect} from '../api/inspect.js';
import {BaseCommand} from '../cli/base-command.js';
import {jsonFlag, verifyWeightsFlags} from '../cli/flags.js';
import {renderInspect} from '../cli/render-model.js';

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
    json: jsonFlag('Print the report as JSON.'),
    'no-tensors': Flags.boolean({description: 'Leave out the tensor table.', default: false}),
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Inspect);
    const report = inspect(args.model, {verifyWeights: flags['verify-weights'], tensors: !flags['no-tensors']});
    this.log(renderInspect(report));
    return report;
  }
}
