/**
 * Flags several commands share, declared once so that their name, help text and default cannot
 * drift apart between commands.
 */
import {Flags} from '@oclif/core';

/** Full sha256 of a bundle's weight files against hire.json (generate, eval, bench, inspect). */
export const verifyWeightsFlag = Flags.boolean({
  description:
    "HiRE bundles: also compare the full sha256 of every weight file with the one hire.json recorded at calibration (reads every byte; the size and a sampled fingerprint are always compared).",
  default: false,
});
