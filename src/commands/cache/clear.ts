import {Args} from '@oclif/core';
import {BaseCommand} from '../../cli/base-command.js';
import {jsonFlag} from '../../cli/flags.js';
import {formatBytes} from '../../cli/format.js';
import {clearCache} from '../../api/cache.js';

export default class CacheClear extends BaseCommand {
  static override summary = "Remove cache entries: hire's synthetic checkpoints, or named Hugging Face models.";
  static override description = `Without names, removes every synthetic checkpoint that bench --shape wrote to hire's cache ($HIRE_CACHE_DIR, else ~/.cache/hire), except one another run is writing right now; bench writes it again when next asked for. With names (as hire cache list shows them), removes exactly those entries: a synthetic checkpoint's folder name, or a Hugging Face model id org/name (its whole models--org--name folder, every revision; the Python tools share that cache). Models in the Hugging Face cache are never removed unless named. An unknown name removes nothing.`;

  static override examples = [
    '<%= config.bin %> cache clear',
    '<%= config.bin %> cache clear llama-1b-f32-seed1234',
    '<%= config.bin %> cache clear TinyLlama/TinyLlama-1.1B-Chat-v1.0',
  ];

  static override strict = false;

  static override args = {
    names: Args.string({description: 'Entries to remove (default: all of hire\'s synthetic checkpoints).', required: false}),
  };

  static override flags = {
    json: jsonFlag('Print {removed: [{kind, name, path, bytes, about}], bytes} as JSON.'),
  };

  async run() {
    const {argv} = await this.parse(CacheClear);
    const result = clearCache(argv as string[]);
    for (const e of result.removed) this.log(`removed ${e.name} (${formatBytes(e.bytes)})`);
    this.log(`freed ${formatBytes(result.bytes)}`);
    return result;
  }
}
