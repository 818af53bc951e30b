/**
 * `hire serve`: an OpenAI-compatible HTTP server over one model, concurrent requests decoded
 * together (continuous batching).
 */
import {DEFAULTS} from '../api/defaults.js';
import {BaseCommand, note, warn} from '../cli/base-command.js';
import {loadWithBars} from '../cli/download-progress.js';
import {backendFlags, deviceFlags, downloadFlags, ffnFlags, kvDtypeFlags, modelArg, serveFlags, verifyWeightsFlags} from '../cli/flags.js';
import {loadOptions, serveOptions} from '../cli/options.js';
import {serveUntilSignal} from '../cli/serve-loop.js';

export default class Serve extends BaseCommand {
  static override summary = 'Serve a model over an OpenAI-compatible HTTP API, concurrent requests decoded together.';
  static override description = `Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (OpenAI request and response shapes; stream: true sends server-sent events ending with "data: [DONE]"), GET /health, GET /metrics (Prometheus text: requests, queue depth, tokens/s, weight bytes per token, bandwidth, HiRE candidates and FFN groups).

Requests are decoded together: new ones join the running batch between steps and leave it when done, so one forward pass serves them all and, with HiRE, reads each weight row once for the union of their groups and candidates. Each request gets the tokens it would get alone with the same options and seed. Besides OpenAI's fields a request may set HiRE's: recall, k_prime, certify, dense, predictor, logprobs_tail, and top_k, min_p, repetition_penalty, ignore_eos.

Listens on 127.0.0.1 unless --host says otherwise. A full queue answers 429, a request past --timeout 504, a server shutting down 503. SIGTERM or SIGINT: in-flight requests finish (or are cancelled after --shutdown-timeout), then the command exits 0.`;

  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve ./my-chat-model --port 8000 --max-batch 32',
    'HIRE_API_KEY=secret <%= config.bin %> serve ./my-model.hire --host 0.0.0.0',
  ];

  static override args = {
    model: modelArg('Model or HiRE bundle to serve (default: the bundled demo bundle, models/shakespeare-topk.hire)'),
  };

  /** A server runs until it is stopped; there is no one object to print. */
  static override enableJsonFlag = false;

  static override flags = {
    ...serveFlags,
    ...backendFlags,
    ...downloadFlags,
    ...kvDtypeFlags,
    ...ffnFlags,
    ...deviceFlags,
    ...verifyWeightsFlags,
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Serve);
    const options = serveOptions(flags);
    if (options.apiKey === undefined && !['127.0.0.1', 'localhost', '::1'].includes(options.host)) warn(`listening on ${options.host} without --api-key: anyone who can reach it can use the model`);
    const model = await loadWithBars(args.model ?? DEFAULTS.demo.bundle, loadOptions(flags), true);
    try {
      await serveUntilSignal(model, options, note);
    } finally {
      model.dispose();
    }
  }
}
