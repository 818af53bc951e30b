import {Args} from '@oclif/core';
import {generateBatch} from '../api/batch.js';
import {DEFAULTS} from '../api/defaults.js';
import {loadModel} from '../api/model.js';
import {BaseCommand} from '../cli/base-command.js';
import {backendFlags, deviceFlags, ffnFlags, generateFlags, jsonFlag, logprobFlags, replyFlags, samplingFlags, softmaxFlags, verifyWeightsFlags} from '../cli/flags.js';
import {printBatch, streamGeneration} from '../cli/generate-output.js';
import {generateOptions, generatePrompts, generateTokenizer, loadOptions, stdinPrompt} from '../cli/options.js';
import {TokenizerError, type HireError} from '../index.js';

export default class Generate extends BaseCommand {
  static override summary = 'Generate text from a prompt, streaming tokens as they are decoded.';
  static override description = `Loads a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded index, tokenizer.json) and decodes one token at a time. Text goes to stdout as it is produced; timing statistics go to stderr. Sampling is reproducible: the same --seed gives the same text. --temperature 0 is greedy decoding.

When the model directory is a HiRE bundle (made by \`hire calibrate\`), the output layer is sparse: the predictor scores every vocabulary row cheaply, the k' best candidates are computed exactly, and sampling sees those candidates only (the tail outside them is dropped). k' comes from the bundle's recall table for --recall; --certify widens k' until the top-k is provably the dense top-k, so greedy output is token for token the dense output. --dense turns HiRE off.

The prompt is --prompt, --prompt-file, --tokens, or stdin (--prompt -, or no prompt while stdin is a pipe). --system (or --chat) renders a text prompt as a conversation through the model's chat template (chat_template in tokenizer_config.json, or chat_template.jinja), as transformers' apply_chat_template does; a model without one is an error. --stop ends the text before the first stop string; --min-p and the --repetition-, --presence- and --frequency-penalty act before sampling, the penalties on every token already in the sequence, prompt included.

--logprobs N gives each generated token its log-probability and the N most likely alternatives, in the model's own distribution (temperature 1, before penalties and truncation): dense values are exact; under HiRE they are normalised over the k' candidates (--logprobs-tail drop: exact for what HiRE samples from, each the dense value plus the same -log P(candidates) >= 0) or with the predictor's estimate of the other rows (--logprobs-tail estimate). Printed on stderr after the text; in the result with --json; per token with --jsonl, which streams one JSON object per line ({"type":"token", ...} per token, then {"type":"result", ...}).

--json prints one object of the same shape on every path: {text, promptTokenIds, tokenIds, backend, stats, output, weightBytesPerToken, devices}. text leaves the prompt out (it keeps the first token's leading space); devices is null on one device; with --devices, the byte counts not measured there (weightBytesPerToken, output.bytesPerToken) are null. Several prompts or --batch print {sequences: [one such object per prompt], tokensPerSecond, weightBytesPerToken, ffnGroups}.`;

  static override examples = [
    '<%= config.bin %> generate --prompt "ROMEO:"',
    '<%= config.bin %> generate ./my-model --prompt "Once upon a time" --max-tokens 64 --temperature 0',
    'echo "Once upon a time" | <%= config.bin %> generate ./my-model --stop "." --stop "!" --jsonl',
    '<%= config.bin %> generate ./my-chat-model --system "Answer in one sentence." --prompt "Why is the sky blue?" --min-p 0.05',
    '<%= config.bin %> generate ./my-model --prompt-file prompt.txt --repetition-penalty 1.1 --logprobs 3 --json',
    '<%= config.bin %> generate ./my-model --prompt "Hello" --temperature 0.7 --top-p 0.9 --seed 7',
    '<%= config.bin %> generate ./my-model --tokens 1,403,407 --max-tokens 16 --json',
    '<%= config.bin %> generate llama2xs.hire --prompt "Once upon a time" --temperature 0 --certify',
    '<%= config.bin %> generate llama2xs.hire --prompt "Once upon a time" --recall 0.999',
    '<%= config.bin %> generate --prompt "ROMEO:" --temperature 0 --devices 2 --merge dat',
    '<%= config.bin %> generate --prompt "ROMEO:" --prompt "JULIET:" --prompt "KING:" --max-tokens 32',
    '<%= config.bin %> generate --prompt "ROMEO:" --batch 8 --json',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle (default: the bundled demo model, models/shakespeare-topk.hire).', required: false}),
  };

  static override flags = {
    ...generateFlags,
    ...replyFlags,
    ...samplingFlags,
    ...logprobFlags,
    ...backendFlags,
    ...softmaxFlags,
    ...ffnFlags,
    ...deviceFlags,
    json: jsonFlag('Print one JSON object (text without the prompt, token ids, statistics; see the description) instead of streaming.'),
    ...verifyWeightsFlags,
  };

  /** A prompt the tokenizer cannot take can be given as ids. */
  protected override hint(err: HireError): string | null {
    return err instanceof TokenizerError && err.message.endsWith('as token ids') ? '--tokens 1,2,3' : null;
  }

  async run() {
    const {args, flags} = await this.parse(Generate);
    const options = generateOptions(flags); // checked before the model is loaded
    const {prompts, batch} = generatePrompts(flags, await stdinPrompt(flags));
    const model = await loadModel(args.model ?? DEFAULTS.demo.bundle, loadOptions(flags, generateTokenizer(flags)));
    try {
      if (!batch) return await streamGeneration(model, prompts[0]!, options, this.jsonEnabled() ? 'json' : flags.jsonl ? 'jsonl' : 'text');
      const r = await generateBatch(model, prompts, options);
      if (!this.jsonEnabled()) printBatch(r, prompts, model.backendInfo);
      return r;
    } finally {
      model.dispose();
    }
  }
}
