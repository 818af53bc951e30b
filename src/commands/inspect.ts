import {Flags} from '@oclif/core';
import {inspect} from '../api/inspect.js';
import {BaseCommand} from '../cli/base-command.js';
import {jsonFlag, requiredModelArg, verifyWeightsFlags} from '../cli/flags.js';
import {renderInspect} from '../cli/render-model.js';

export default class Inspect extends BaseCommand {
  static override summary = 'Show what a checkpoint holds: family, parameters, dtypes, bytes read per token, tensors.';
  static override description = `Reads config.json and the safetensors headers, or a GGUF file's header (no tensor data), checks every weight the architecture needs against its expected name and shape, and prints a summary and the tensor table (block tensors by their ggml format, q8_0 or q4_0, and their real bytes). On a HiRE bundle it also checks every field of hire.json and that the weight files are the ones calibrated (size and a sampled fingerprint; the full sha256 with --verify-weights).`;

  static override examples = [
    '<%= config.bin %> inspect TinyLlama/TinyLlama-1.1B-Chat-v1.0',
    '<%= config.bin %> inspect ./my-model --json',
    '<%= config.bin %> inspect ./my-model --no-tensors',
    '<%= config.bin %> inspect ./model.Q4_0.gguf --no-tensors',
  ];

  static override args = {
    model: requiredModelArg('Model to inspect'),
  };

  static override flags = {
    json: jsonFlag('Print the report as JSON.'),
    'no-tensors': Flags.boolean({description: 'Leave out the tensor table.', default: false}),
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Inspect);
    const report = await inspect(args.model, {verifyWeights: flags['verify-weights'], tensors: !flags['no-tensors']});
    this.log(renderInspect(report));
    return report;
  }
}
