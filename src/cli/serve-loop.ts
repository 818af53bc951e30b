/**
 * `hire serve` once the model is loaded: listen, say where, and on SIGTERM or SIGINT shut down
 * gracefully (in-flight requests finish or are cancelled at the deadline) so the command exits 0;
 * a second signal exits at once.
 */
import os from 'node:os';
import {createServer, type ServerOptions} from '../api/server/server.js';
import type {HireModel} from '../api/model.js';

export async function serveUntilSignal(model: HireModel, options: ServerOptions & {host: string; port: number}, note: (line: string) => void): Promise<void> {
  const server = createServer(model, options);
  const url = await server.listen({host: options.host, port: options.port});
  note(`hire serve: ${server.modelId} on ${model.backendInfo}; listening on ${url} (OpenAI API under ${url}/v1; /health, /metrics)`);
  const deadline = options.shutdownMs ?? 10_000;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(128 + os.constants.signals[signal]);
      stopping = true;
      note(`hire serve: ${signal}: finishing in-flight requests (at most ${deadline / 1000} s), then exiting`);
      void server.close(deadline).then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  note('hire serve: stopped');
}
