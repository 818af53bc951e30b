import path from 'node:path';
import {Args} from '@oclif/core';
import {BaseCommand} from '../cli/base-command.js';
import {jsonFlag} from '../cli/flags.js';
import {createDownloadBars} from '../cli/download-progress.js';
import {formatBytes} from '../cli/format.js';
import {exitOnSignals} from '../cli/signals.js';
import {pullModel} from '../api/hub.js';

export default class Pull extends BaseCommand {
  static override summary = 'Download a model from the Hugging Face Hub into the Hugging Face cache.';
  static override description = `Downloads what hire loads of a Hub model (config.json, generation_config.json, the tokenizer files, model.safetensors or a sharded index and its shards, and a HiRE bundle's hire.json and hire.safetensors; from a repo of GGUF files, only the one GGUF file that org/name:TAG picks, TAG being its quant tag, Q4_0 or Q4_K_M, or its file name; without a tag, the repo's only GGUF file) into the standard Hugging Face cache, laid out as the Python tools lay it out (models--org--name/ with refs/, snapshots/ and blobs/), so both share one copy. Every other command then takes the same id (hire generate org/name ..., hire generate org/name:Q4_0 ...) and finds it there without any network request.

The cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. HF_TOKEN (or the token saved by a Hugging Face login) is sent for gated and private models; HF_ENDPOINT sets another hub; HF_HUB_OFFLINE=1 forbids downloads. Each file is checked against the hash the Hub lists before it is kept; an interrupted download (Ctrl-C, a dropped connection) resumes where it stopped when run again. Files already in the cache are not downloaded again. A progress bar per file goes to stderr on a terminal. hire cache list shows what the cache holds; hire cache clear org/name removes a model.`;

  static override examples = [
    '<%= config.bin %> pull TinyLlama/TinyLlama-1.1B-Chat-v1.0',
    '<%= config.bin %> pull Qwen/Qwen2.5-0.5B-Instruct@main --json',
    '<%= config.bin %> pull TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M',
    'HF_TOKEN=hf_xxx <%= config.bin %> pull meta-llama/Llama-3.2-1B',
  ];

  static override args = {
    model: Args.string({
      description: 'Hugging Face model id: org/name, or org/name@revision (a branch, tag or commit hash); with :TAG (org/name:Q4_0) the GGUF file of that quant tag, or of that file name, from a repo of GGUF files.',
      required: true,
    }),
  };

  static override flags = {
    json: jsonFlag('Print {repo, revision, commit, dir, gguf (a GGUF file: its name in dir), files: [{file, bytes, downloaded}]} as JSON.'),
  };

  async run() {
    const {args} = await this.parse(Pull);
    const bars = createDownloadBars(!this.jsonEnabled());
    let result;
    try {
      result = await exitOnSignals(() => pullModel(args.model, {onProgress: bars.onProgress}), () => bars.stop());
    } finally {
      bars.stop();
    }
    const fetched = result.files.filter((f) => f.downloaded);
    const bytes = fetched.reduce((n, f) => n + f.bytes, 0);
    const cached = result.files.length - fetched.length;
    this.log(`${args.model} at commit ${result.commit}: ${fetched.length} files downloaded (${formatBytes(bytes)}), ${cached} already cached`);
    this.log(result.gguf === undefined ? result.dir : path.join(result.dir, result.gguf));
    return result;
  }
}
