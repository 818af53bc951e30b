import {Args} from '@oclif/core';
import {calibrate} from '../api/calibrate.js';
import {SELECTION_K} from '../api/catalog.js';
import {BaseCommand} from '../cli/base-command.js';
import {backendFlags, calibrateFfnFlags, calibrateFlags, jsonFlag} from '../cli/flags.js';
import {calibrateOptions} from '../cli/options.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderCalibration} from '../cli/render-model.js';
import {exitOnSignals} from '../cli/signals.js';

export default class Calibrate extends BaseCommand {
  static override summary = 'Fit HiRE predictors on calibration text, measure their recall, and write a bundle.';
  static override description = `Runs the dense model over calibration text (default: the train split of the bundled Shakespeare corpus), collects the final hidden states, fits the softmax predictors (low-rank by plain truncated SVD and by the data-aware fit, int8/int4/int2 quantisation, and low-rank with a quantised factor), measures recall@k against k' on a held-out part of the text, and writes <out>/ with the model, hire.safetensors and hire.json (k' tables per recall target). Calibration picks the predictor that reads the fewest bytes per token at k=${SELECTION_K} and the --recall target. With --calibrate-ffn it also calibrates HiRE-FFN: each layer's neurons are permuted so that co-active ones share a group, groups active on most tokens become the static set, a predictor of [W_gate; W_up] (W_in for non-gated FFNs) is fitted per layer, and k'_g (groups read per token) is measured per recall target; the bundle then stores the permuted weights with W_out as one row per neuron (generate, eval and bench use it unless given --ffn off). The bundle hard-links the source's weight files when the file system allows (without --calibrate-ffn), so the bundle's weights and the source's are one file: editing either edits both; --copy-weights copies them instead. The bundle is written to a temporary directory (<out>.hire-tmp-<pid>-<hex>) and renamed into place, so a failed or interrupted run (Ctrl-C, SIGTERM, SIGHUP) leaves nothing behind, and a later run removes what a killed one left. --force replaces only an existing hire bundle, never the model, the current directory or a directory holding either; --out is checked before any work starts. --ffn is the old, deprecated spelling of --calibrate-ffn.`;

  static override examples = [
    '<%= config.bin %> calibrate --out demo.hire',
    '<%= config.bin %> calibrate ../shared/models/llama2xs --out llama2xs.hire',
    '<%= config.bin %> calibrate ./my-model --data notes.txt --softmax lowrank+quant --rank 128 --bits 4 --recall 0.99',
    '<%= config.bin %> calibrate ./my-model --k 1,8,40 --tokens 16384 --json',
    '<%= config.bin %> calibrate --calibrate-ffn --ffn-group-size 8 --out demo-ffn.hire',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory (default: the bundled demo model, models/shakespeare-topk).', required: false}),
  };

  static override optionFlags = {ks: 'k', 'ffn.kinds': 'ffn-kind', 'ffn.topK': 'ffn-topk', 'ffn.staticThreshold': 'ffn-static'};

  static override flags = {
    ...calibrateFlags,
    ...backendFlags,
    ...calibrateFfnFlags,
    json: jsonFlag('Print the manifest (hire.json) as JSON.'),
  };

  async run() {
    const {args, flags} = await this.parse(Calibrate);
    const progress = createProgress(!this.jsonEnabled());
    const options = {...calibrateOptions(args.model, flags), onProgress: progressCallback(progress)};
    try {
      const result = await exitOnSignals(() => calibrate(options), () => progress.stop());
      progress.stop();
      this.log(renderCalibration(result, flags.recall));
      return result.manifest;
    } finally {
      progress.stop();
    }
  }
}
