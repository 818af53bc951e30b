/** The bundle's fixed names, in one place for the writer, the reader and the `out` checks. */
export const BUNDLE_FORMAT = 'hire-bundle';
export const BUNDLE_VERSION = 1;
export const MANIFEST_FILE = 'hire.json';
export const PREDICTORS_FILE = 'hire.safetensors';
