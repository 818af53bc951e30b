import {quantize} from '../api/quantize.js';
import {BaseCommand} from '../cli/base-command.js';
import {jsonFlag, quantizeFlags, requiredModelArg} from '../cli/flags.js';
import {quantizeOptions} from '../cli/options.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderQuantize} from '../cli/render-model.js';
import {exitOnSignals} from '../cli/signals.js';

export default class Quantize extends BaseCommand {
  static override summary = "Rewrite a model's weight matrices in ggml blocks (Q8_0 or Q4_0), as a model directory every command loads.";
  static override description = `Reads a Hugging Face checkpoint directory or a GGUF file (llama, mistral, qwen2) and writes <out>/ with config.json ("hire_weight_format" added), the tokenizer files (from a GGUF file: built from its metadata) and model.safetensors, where every weight matrix whose rows are whole 32-weight blocks is stored in llama.cpp's block layout: Q8_0 (32 int8 and one f16 scale, 34 bytes) or Q4_0 (32 4-bit values and one f16 scale, 18 bytes). Matrices already in the target format (a GGUF file's Q8_0 / Q4_0 tensors) are copied byte for byte, never re-quantised; --to keep keeps a GGUF file's own formats (its Q4_K / Q5_K / Q6_K tensors were converted to Q8_0 when read). Norms and biases stay as they are. The cpu backend computes on the blocks (activations f32 by default); webgpu repacks them losslessly; tfjs holds them as f32. The directory is written to <out>.hire-tmp-<pid>-<hex> and renamed into place; --force replaces only a directory hire quantize wrote.

With --out ending in .gguf the output is one GGUF file instead, laid out as llama.cpp's converter writes it (W_q / W_k rows interleaved for Llama and Mistral, the vocabulary and chat template in tokenizer.ggml.* metadata; SentencePiece-style and byte-level BPE tokenizers), which llama.cpp and hire load; --force replaces only a GGUF file hire quantize wrote.`;

  static override examples = [
    '<%= config.bin %> quantize TinyLlama/TinyLlama-1.1B-Chat-v1.0 --to q8_0 --out tinyllama-q8_0',
    '<%= config.bin %> quantize ./my-model --to q4_0 --out my-model-q4_0 --json',
    '<%= config.bin %> quantize ./model.Q4_0.gguf --to keep --out my-model-q4_0',
    '<%= config.bin %> quantize ./my-model --to q4_0 --out my-model-q4_0.gguf',
  ];

  static override args = {
    model: requiredModelArg('Model to quantise'),
  };

  static override flags = {
    ...quantizeFlags,
    json: jsonFlag('Print the report as JSON.'),
  };

  async run() {
    const {args, flags} = await this.parse(Quantize);
    const progress = createProgress(!this.jsonEnabled());
    const options = {...quantizeOptions(args.model, flags), onProgress: progressCallback(progress)};
    try {
      const report = await exitOnSignals(() => quantize(options), () => progress.stop());
      progress.stop();
      this.log(renderQuantize(report));
      return report;
    } finally {
      progress.stop();
    }
  }
}
