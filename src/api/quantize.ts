/**
 * quantize(): a checkpoint directory or GGUF file rewritten with its weight matrices in ggml
 * blocks (Q8_0 or Q4_0), as a model directory that loadModel(), calibrate() and every command
 * load, or (out ending in .gguf) as one GGUF file that llama.cpp loads too. Never prints.
 */
import {resolveModel} from './hub.js';
import {removeStagedDirs} from '../core/hire/bundle/staging.js';
import {quantizeModel, type QuantizeOptions as CoreQuantizeOptions, type QuantizeReport} from '../core/tasks/quantize.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {QuantizeReport, QuantizedTensor} from '../core/tasks/quantize.js';

/** The options of core quantizeModel() (documented there), with progress, warnings and cancellation as TaskOptions. */
export type QuantizeOptions = Omit<CoreQuantizeOptions, 'onProgress' | 'onWarning'> & TaskOptions;

/**
 * The output is written to `<out>.hire-tmp-<pid>-<hex>` and renamed into place; a process.exit()
 * during the call removes the unfinished directory or file first (as calibrate() does).
 */
export async function quantize(options: QuantizeOptions): Promise<QuantizeReport> {
  const {onProgress: _p, onWarning, signal: _s, model, ...rest} = options;
  const progress = coreProgress('quantisation', options);
  const dir = (await resolveModel(model, {onProgress: options.onProgress, signal: options.signal})).dir;
  process.on('exit', removeStagedDirs);
  try {
    return await quantizeModel({...rest, model: dir, onProgress: (done, total) => progress('converting tensors', done, total), onWarning});
  } finally {
    process.removeListener('exit', removeStagedDirs);
  }
}
