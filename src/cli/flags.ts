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

/** `hire serve`: where it listens, who may call it, and how much it takes on. */
export const serveFlags = {
  host: Flags.string({description: 'Address to listen on. The default takes connections from this machine only; anything else exposes the model to the network (set --api-key).', default: '127.0.0.1'}),
  port: Flags.integer({description: 'Port to listen on (0: a free one, printed at start).', default: 8080, min: 0, max: 65535}),
  'api-key': Flags.string({description: 'Require the header "Authorization: Bearer KEY" on every request but GET /health (default: the HIRE_API_KEY environment variable; none when unset).', env: 'HIRE_API_KEY'}),
  'model-id': Flags.string({description: "The model's id in requests and responses (default: the model directory's name)."}),
  'max-batch': Flags.integer({description: 'Most requests decoded together (continuous batching).', default: 16, min: 1}),
  'max-queue': Flags.integer({description: 'Most requests waiting for a place in the batch; more get 429 with Retry-After.', default: 64, min: 1}),
  timeout: Flags.integer({description: 'Seconds a request may take, queue included, before it ends with 504.', default: 300, min: 1}),
  'max-body': Flags.integer({description: 'Largest request body in bytes (larger: 413).', default: 1 << 20, min: 1}),
  'shutdown-timeout': Flags.integer({description: 'On SIGTERM or SIGINT: seconds in-flight requests may take to finish before they are cancelled; then the server exits 0.', default: 10, min: 0}),
};
