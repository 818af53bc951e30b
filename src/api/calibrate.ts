/**
 * calibrate(): fit HiRE-Softmax predictors on calibration text, measure their recall on a
 * held-out split, and write a bundle that loadBundle() and `hire generate` read. Never prints.
 */
import {removeStagedDirs} from '../core/hire/bundle/staging.js';
import {calibrate as calibrateCore, type CalibrateOptions as CoreCalibrateOptions, type CalibrationResult} from '../core/tasks/calibrate/calibrate.js';
import {DEFAULTS} from './defaults.js';
import {withoutUndefined} from './options.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {CalibrationResult} from '../core/tasks/calibrate/calibrate.js';
export type {HireManifest} from '../core/hire/bundle/bundle.js';

/**
 * The options of core calibrate() (documented there), with `model` optional and progress,
 * warnings and cancellation as TaskOptions. Missing options take DEFAULTS (DEFAULTS.calibrate),
 * the defaults of `hire calibrate`'s flags.
 */
export type CalibrateOptions = Omit<CoreCalibrateOptions, 'model' | 'onProgress' | 'onWarning'> &
  Partial<Pick<CoreCalibrateOptions, 'model'>> &
  TaskOptions;

/**
 * Installs no signal handlers (yours keep working as they were): while the call runs, a
 * process.exit() from anywhere (e.g. your SIGINT handler) removes the unfinished bundle directory
 * first. A process killed without exiting (a signal nobody handles, SIGKILL) leaves
 * `<out>.hire-tmp-<pid>-<hex>`; the next calibrate() for the same out removes it.
 */
export async function calibrate(options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const {onProgress: _p, onWarning, signal: _s, model, ffn, ...rest} = options;
  const onProgress = coreProgress('calibration', options);
  const c = DEFAULTS.calibrate;
  process.on('exit', removeStagedDirs);
  try {
    return await calibrateCore({
      recall: DEFAULTS.recall,
      ks: [...c.ks],
      tokens: c.tokens,
      seqLen: c.seqLen,
      seed: c.seed,
      backend: DEFAULTS.backend,
      ...withoutUndefined(rest),
      ffn: ffn ? {...c.ffn, ...withoutUndefined(ffn)} : ffn,
      model: model ?? DEFAULTS.demo.model,
      onProgress,
      onWarning,
    });
  } finally {
    process.removeListener('exit', removeStagedDirs);
  }
}
