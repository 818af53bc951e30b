import {Args, Flags} from '@oclif/core';
import {BaseCommand, warn} from '../cli/base-command.js';
import {formatBytes, makeTable} from '../cli/format.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {exitOnSignals} from '../cli/signals.js';
import {quantize} from '../api/quantize.js';

export default class Quantize extends BaseCommand {
  static override summary = "Rewrite a model's weight matrices in ggml blocks (Q8_0 or Q4_0), as a model directory every command loads.";
  static override description = `Reads a Hugging Face checkpoint directory or a GGUF file (llama, mistral, qwen2) and writes <out>/ with config.json ("hire_weight_format" added), the tokenizer files (from a GGUF file: built from its metadata) and model.safetensors, where every weight matrix whose rows are whole 32-weight blocks is stored in llama.cpp's block layout: Q8_0 (32 int8 and one f16 scale, 34 bytes) or Q4_0 (32 4-bit values and one f16 scale, 18 bytes). Matrices already in the target format (a GGUF file's Q8_0 / Q4_0 tensors) are copied byte for byte, never re-quantised; --to keep keeps a GGUF file's own formats (its Q4_K / Q5_K / Q6_K tensors were converted to Q8_0 when read). Norms and biases stay as they are. The cpu backend computes on the blocks (activations rounded to 16 bits per block); webgpu repacks them losslessly; tfjs holds them as f32. The directory is written to <out>.hire-tmp-<pid>-<hex> and renamed into place; --force replaces only a directory hire quantize wrote.`;

  static override examples = [
    '<%= config.bin %> quantize ../shared/models/llama2xs --to q8_0 --out llama2xs-q8_0',
    '<%= config.bin %> quantize ./my-model --to q4_0 --out my-model-q4_0 --json',
    '<%= config.bin %> quantize ./model.Q4_0.gguf --to keep --out my-model-q4_0',
  ];

  static override args = {
    model: Args.string({description: 'Model directory (Hugging Face layout) or .gguf file.', required: true}),
  };

  static override flags = {
    to: Flags.string({description: "Block format of the weight matrices ('keep': a GGUF file's own).", options: ['q8_0', 'q4_0', 'keep'], required: true}),
    out: Flags.string({char: 'o', description: 'Directory to write. Its parent must exist.', required: true}),
    force: Flags.boolean({description: 'Replace an existing directory at --out that hire quantize wrote (never the model or the current directory).', default: false}),
    json: Flags.boolean({description: 'Print the report as JSON.', default: false}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Quantize);
    const progress = createProgress(!flags.json);
    let report;
    try {
      report = await exitOnSignals(
        () =>
          quantize({
            model: args.model,
            to: flags.to as 'q8_0' | 'q4_0' | 'keep',
            out: flags.out,
            force: flags.force,
            onProgress: progressCallback(progress),
            onWarning: warn,
          }),
        () => progress.stop(),
      );
    } finally {
      progress.stop();
    }
    if (flags.json) {
      this.log(JSON.stringify(report, null, 2));
      return;
    }
    const counts = new Map<string, number>();
    for (const t of report.tensors) counts.set(`${t.from} -> ${t.to} (${t.how})`, (counts.get(`${t.from} -> ${t.to} (${t.how})`) ?? 0) + 1);
    const table = makeTable(['tensors', 'count']);
    for (const [k, n] of counts) table.push([k, String(n)]);
    this.log(table.toString());
    this.log(`${formatBytes(report.sourceBytes)} -> ${formatBytes(report.bytes)} of weights (${report.formats.join(', ')})`);
    this.log(`wrote ${report.out}`);
  }
}
