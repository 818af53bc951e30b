/**
 * createServer(): an OpenAI-compatible HTTP server over a loaded model, on fastify (chosen over
 * hono for what a server exposed to other programs needs built in: a body size cap, JSON parsing
 * with clean 4xx errors, one error handler, and a close() that stops listening and drains open
 * connections). Requests go to one continuous-batching scheduler (core/tasks/serve), so
 * concurrent requests are decoded together.
 *
 *   const server = createServer(model, {apiKey: 'secret'});
 *   const url = await server.listen({port: 8080});      // http://127.0.0.1:8080
 *   ...
 *   await server.close();                                // finishes or cancels in-flight requests
 */
import {randomUUID, timingSafeEqual} from 'node:crypto';
import path from 'node:path';
import Fastify, {type FastifyInstance, type FastifyReply, type FastifyRequest} from 'fastify';
import {Scheduler} from '../../core/tasks/serve/scheduler.js';
import {ServeMetrics} from '../../core/tasks/serve/metrics.js';
import {UsageError} from '../../core/errors.js';
import {DEFAULTS} from '../defaults.js';
import {modelInternals, type HireModel} from '../model.js';
import {ApiError, RequestTimeout, toApiError} from './errors.js';
import {runRequest, type Served, type StreamSink} from './generation.js';
import {parseRequest, type Endpoint, type RequestLimits} from './request.js';

export interface ServerOptions {
  /** The model's id in requests and responses (default: the model directory's name). */
  modelId?: string;
  /** When set, every request but GET /health needs the header `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Most requests decoded together (default 16). */
  maxBatch?: number;
  /** Most requests waiting for a place in the batch; more get 429 (default 64). */
  maxQueue?: number;
  /** A request still running after this many milliseconds, queue included, ends with 504 (default 300000). */
  timeoutMs?: number;
  /** Largest request body in bytes; larger gets 413 (default 1 MiB). */
  bodyLimit?: number;
  /** Largest max_tokens a request may ask for (default: the model's context less one). */
  maxTokens?: number;
  /** close() waits this long for in-flight requests before it cancels them (default 10000 ms). */
  shutdownMs?: number;
}

export interface ListenOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
}

export interface HireServer {
  /** The model's id in requests and responses. */
  readonly modelId: string;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:8080. */
  listen(options?: ListenOptions): Promise<string>;
  /**
   * Graceful shutdown: new requests get 503, in-flight ones finish or, after `deadlineMs`
   * (default: the shutdownMs option), are cancelled; then the server stops listening. The model
   * stays loaded (dispose it yourself).
   */
  close(deadlineMs?: number): Promise<void>;
  /** The /metrics text (Prometheus exposition format). */
  metrics(): string;
}

/** How long close() lets connections finish their last answer once no request is left. */
const CLOSE_GRACE_MS = 500;


function positiveInt(options: ServerOptions, key: keyof ServerOptions): void {
  const v = options[key];
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1)) throw new UsageError(`${key} must be an integer >= 1, got ${String(v)}`, {option: key});
}

export function createServer(model: HireModel, options: ServerOptions = {}): HireServer {
  const internals = modelInternals(model);
  const o = serverOptions(options);
  const modelId = o.modelId ?? path.basename(path.resolve(model.dir));
  const metrics = new ServeMetrics(model.config.vocabSize);
  const scheduler = new Scheduler(internals.decoder(), {maxBatch: o.maxBatch, maxQueue: o.maxQueue, metrics, exclusive: (fn) => internals.step(fn)});
  const served: Served = {model, scheduler, modelId};
  const app = Fastify({logger: false, bodyLimit: o.bodyLimit, return503OnClosing: true, forceCloseConnections: 'idle'});
  app.removeContentTypeParser('text/plain'); // bodies are JSON only: anything else is 415
  let closing: Promise<void> | null = null;
  routes(app, served, metrics, o, () => closing !== null);
  return {
    modelId,
    async listen(l: ListenOptions = {}) {
      await app.listen({host: l.host ?? DEFAULTS.serve.host, port: l.port ?? DEFAULTS.serve.port});
      const a = app.server.address();
      if (a === null || typeof a === 'string') return String(a);
      return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    },
    close(deadlineMs = o.shutdownMs) {
      closing ??= (async () => {
        await scheduler.close(deadlineMs);
        // every request has its answer now; a connection still open after a moment's grace
        // (a client keeping it alive) is closed
        const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
        try {
          await app.close();
        } finally {
          clearTimeout(force);
        }
      })();
      return closing;
    },
    metrics: () => metrics.render(),
  };
}

type Resolved = typeof DEFAULTS.serve & ServerOptions;

/** The options checked (UsageError naming the option) and filled from DEFAULTS.serve. */
function serverOptions(options: ServerOptions): Resolved {
  for (const key of ['maxBatch', 'maxQueue', 'timeoutMs', 'bodyLimit', 'maxTokens'] as const) positiveInt(options, key);
  if (options.shutdownMs !== undefined && !(Number.isFinite(options.shutdownMs) && options.shutdownMs >= 0)) throw new UsageError(`shutdownMs must be a number >= 0, got ${options.shutdownMs}`, {option: 'shutdownMs'});
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) throw new UsageError('apiKey must be a non-empty string', {option: 'apiKey'});
  return {...DEFAULTS.serve, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))} as Resolved;
}

/** The hooks (metrics, API key), the error answers and the routes. */
function routes(app: FastifyInstance, served: Served, metrics: ServeMetrics, o: Resolved, closing: () => boolean): void {
  const {model, scheduler, modelId} = served;
  app.addHook('onRequest', async (request, reply) => {
    const raw = reply.raw;
    raw.once('close', () => metrics.request(request.routeOptions.url ?? 'unmatched', raw.writableFinished ? raw.statusCode : 499));
    if (o.apiKey !== undefined && request.url !== '/health' && !keyMatches(request.headers.authorization, o.apiKey)) {
      throw new ApiError(401, 'missing or wrong API key: send the header Authorization: Bearer <key>', 'invalid_request_error', null, 'invalid_api_key');
    }
  });
  app.setErrorHandler((error, _request, reply) => {
    const e = toApiError(error);
    if (e.retryAfter !== null) void reply.header('retry-after', String(e.retryAfter));
    return reply.code(e.status).send(e.body);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(new ApiError(404, `no route ${request.method} ${request.url.split('?')[0]}`, 'invalid_request_error', null, 'not_found').body));

  const modelObject = {id: modelId, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'hire'};
  app.get('/health', async (_request, reply) => {
    const state = {status: closing() ? 'shutting_down' : 'ok', model: modelId, queued: scheduler.queued, active: scheduler.active};
    return reply.code(closing() ? 503 : 200).send(state);
  });
  app.get('/v1/models', async () => ({object: 'list', data: [modelObject]}));
  app.get<{Params: {id: string}}>('/v1/models/:id', async (request) => {
    if (request.params.id !== modelId) throw unknownModel(request.params.id, modelId);
    return modelObject;
  });
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render()));
  const limits: RequestLimits = {maxTokens: Math.min(o.maxTokens ?? Infinity, model.config.maxSeqLen - 1), maxStops: 16};
  const handle = (endpoint: Endpoint) => (request: FastifyRequest, reply: FastifyReply) => complete(served, endpoint, request, reply, limits, o.timeoutMs);
  app.post('/v1/completions', handle('completions'));
  app.post('/v1/chat/completions', handle('chat'));
}

function unknownModel(asked: string, served: string): ApiError {
  return new ApiError(404, `the model '${asked.slice(0, 100)}' does not exist: this server serves '${served}'`, 'invalid_request_error', 'model', 'model_not_found');
}

function keyMatches(header: string | undefined, key: string): boolean {
  const want = Buffer.from(`Bearer ${key}`);
  const got = Buffer.from(header ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A completion request: parsed, run through the scheduler, answered whole or as a stream. */
async function complete(served: Served, endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply, limits: RequestLimits, timeoutMs: number): Promise<unknown> {
  const req = parseRequest(endpoint, request.body, limits);
  if (req.model !== served.modelId) throw unknownModel(req.model, served.modelId);
  const ac = new AbortController();
  const gone = () => {
    if (!reply.raw.writableFinished) ac.abort(new Error('the client disconnected'));
  };
  reply.raw.once('close', gone);
  const timer = setTimeout(() => ac.abort(new RequestTimeout(timeoutMs)), timeoutMs);
  const head = {id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: served.modelId};
  const sink = req.stream ? sseSink(reply) : null;
  try {
    const body = await runRequest(served, req, head, ac.signal, sink);
    return sink ? reply : body;
  } catch (e) {
    if (!sink?.opened) throw e;
    // the stream is under way: the error is its last event
    sink.fail(toApiError(e));
    return reply;
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', gone);
  }
}

/** Server-sent events on the raw response, taken over from fastify when the first event is sent. */
function sseSink(reply: FastifyReply): StreamSink & {readonly opened: boolean; fail(e: ApiError): void} {
  let opened = false;
  const write = (s: string) => {
    if (!reply.raw.destroyed) reply.raw.write(s);
  };
  return {
    get opened() {
      return opened;
    },
    open() {
      opened = true;
      reply.hijack();
      reply.raw.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no'});
    },
    send: (event) => write(`data: ${JSON.stringify(event)}\n\n`),
    end: () => {
      write('data: [DONE]\n\n');
      reply.raw.end();
    },
    fail: (e) => {
      write(`data: ${JSON.stringify(e.body)}\n\n`);
      reply.raw.end();
    },
  };
}
