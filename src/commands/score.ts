import {Args} from '@oclif/core';
import {loadModel} from '../api/model.js';
import {score} from '../api/score.js';
import {BaseCommand} from '../cli/base-command.js';
import {backendFlags, deviceFlags, ffnFlags, jsonFlag, logprobFlags, scoreFlags, softmaxFlags, verifyWeightsFlags} from '../cli/flags.js';
import {loadOptions, scoreInput, scoreOptions} from '../cli/options.js';
import {renderScore} from '../cli/render-logprobs.js';

export default class Score extends BaseCommand {
  static override summary = 'Log-probability of every token of a text after its prefix, and the top alternatives (no generation).';
  static override description = `Runs the text through the model in one batched pass and prints, for each token, its log-probability given the tokens before it and the --top most likely alternatives at that position: what evaluation harnesses ask for as log-likelihood requests. The text is encoded as generate encodes prompts (BOS per the model's tokenizer); the first token has no prefix and no log-probability.

The dense output layer is used by default: exact log-probabilities. --hire on a bundle scores through HiRE-Softmax instead: with --logprobs-tail drop the values are normalised over the k' candidates (each is the dense value plus the same -log P(candidates) >= 0), and a token outside the candidates has none (null, shown as -); --logprobs-tail estimate adds the predictor's approximate logits of the other rows to the normalisation, which estimates the dense values and gives every token one.

The text comes from --text, --file, --tokens, or stdin (--text -, or nothing given while stdin is a pipe). --json prints {tokenIds, tokens: [{id, token, logprob, top, normalisedOver, exact, tail}], totalLogprob, output, ms}.`;

  static override examples = [
    '<%= config.bin %> score ./my-model --text "Once upon a time" --top 3',
    'echo "Once upon a time" | <%= config.bin %> score ./my-model --json',
    '<%= config.bin %> score my-model.hire --file story.txt --hire --k-prime 64 --logprobs-tail estimate',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle.', required: true}),
  };

  static override flags = {
    ...scoreFlags,
    recall: softmaxFlags.recall,
    'k-prime': softmaxFlags['k-prime'],
    predictor: softmaxFlags.predictor,
    ...logprobFlags,
    ...backendFlags,
    ...ffnFlags,
    ...deviceFlags,
    json: jsonFlag('Print what score() returns as JSON.'),
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Score);
    const input = await scoreInput(flags);
    const model = await loadModel(args.model, loadOptions(flags, typeof input === 'string' ? 'required' : 'optional'));
    try {
      const r = await score(model, input, scoreOptions(flags));
      this.log(renderScore(r));
      return r;
    } finally {
      model.dispose();
    }
  }
}
