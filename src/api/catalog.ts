/**
 * The choices the library offers, for callers that list them (the CLI's flag options and help
 * text): the backends, the predictor kinds, and the largest text file calibration and evaluation
 * read.
 */
import {TEXT_DATA} from '../core/io/read-file.js';

export {AVAILABLE_BACKENDS} from '../core/backends/index.js';
export {SOFTMAX_KINDS, type SoftmaxKind} from '../core/hire/predictor/predictor.js';
export type {QuantBits} from '../core/numeric/quant.js';
export {formatSize} from '../core/io/read-file.js';

/** The largest text data file (--data, `data`) calibrate and evaluate read, in bytes. */
export const TEXT_DATA_MAX_BYTES = TEXT_DATA.maxBytes;

/** The k at which calibration chooses the predictor (the one reading the fewest bytes per token). */
export {SELECTION_K} from '../core/tasks/calibrate/calibrate.js';
