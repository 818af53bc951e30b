/**
 * The demo model that ships with hire (models/shakespeare-topk, trained by `npm run train:demo`)
 * and its committed HiRE bundle: what commands use when no model is given.
 */
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** The project root: src/core/model and dist/core/model are both three levels down. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'shakespeare-topk');
export const DEMO_BUNDLE_DIR = path.join(PACKAGE_ROOT, 'models', 'shakespeare-topk.hire');
