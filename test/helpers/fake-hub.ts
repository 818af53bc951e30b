/**
 * A loopback HTTP server that imitates the Hugging Face Hub endpoints @huggingface/hub calls, so
 * download tests run without a network:
 *
 *   GET /api/models/<org>/<name>/revision/<rev>   model info with `sha` (the commit rev names)
 *   GET /api/models/<org>/<name>/tree/<rev>        the commit's files (oid, size, lfs for *.safetensors, *.gguf)
 *   GET /<org>/<name>/resolve/<rev>/<file>          the bytes, with Range support (206)
 *
 * Repos are folders on disk served as one commit. Faults make a file's next transfers stop after
 * some bytes (the connection is closed before the body is complete) or arrive with a flipped byte. Every request is
 * recorded. Also here: an async CLI runner (spawnSync would block this server's event loop).
 */
import {spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {PROJECT_ROOT} from './shared.js';
import {SPAWN_TIMEOUT_MS, type CliResult} from './cli.js';

export interface FakeRepo {
  /** org/name. */
  id: string;
  /** Folder whose top-level files are the repo's files. */
  dir: string;
  /** Commit hash served for main (default: derived from the id). */
  commit?: string;
  /** Bearer token the repo requires (a gated model); none: anonymous access. */
  token?: string;
}

export interface Fault {
  /** 'cut': the connection drops after `bytes` bytes; 'stall': it sends `bytes` and then nothing; 'corrupt': one byte flipped. */
  kind: 'cut' | 'stall' | 'corrupt';
  bytes?: number;
  /** How many transfers of the file it hits (default 1). */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  auth: string | null;
}

interface ServedFile {
  bytes: Buffer;
  oid: string;
  sha256: string;
  lfs: boolean;
}

function gitBlobSha1(bytes: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

function readRepo(dir: string): Map<string, ServedFile> {
  const files = new Map<string, ServedFile>();
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (!fs.statSync(p).isFile()) continue;
    const bytes = fs.readFileSync(p);
    files.set(name, {bytes, oid: gitBlobSha1(bytes), sha256: crypto.createHash('sha256').update(bytes).digest('hex'), lfs: /\.(safetensors|gguf)$/.test(name)});
  }
  return files;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  private readonly faults = new Map<string, Fault>();
  private readonly repos = new Map<string, {repo: FakeRepo; commit: string; files: Map<string, ServedFile>}>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(repos: FakeRepo[]): Promise<FakeHub> {
    let hub: FakeHub | null = null;
    const server = http.createServer((req, res) => hub!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    hub = new FakeHub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    for (const r of repos) hub.add(r);
    return hub;
  }

  add(repo: FakeRepo): void {
    const commit = repo.commit ?? crypto.createHash('sha1').update(`commit ${repo.id}`).digest('hex');
    this.repos.set(repo.id, {repo, commit, files: readRepo(repo.dir)});
  }

  commitOf(id: string): string {
    return this.repos.get(id)!.commit;
  }

  /** The content hash the Hub lists for a file: sha256 for LFS files, git sha1 otherwise. */
  etagOf(id: string, file: string): string {
    const f = this.repos.get(id)!.files.get(file)!;
    return f.lfs ? f.sha256 : f.oid;
  }

  fault(id: string, file: string, fault: Fault): void {
    this.faults.set(`${id}/${file}`, {times: 1, ...fault});
  }

  /** Requests for a file's bytes (not the 1-byte probes the library sends first). */
  transfers(file?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.includes('/resolve/') && r.range !== 'bytes=0-0' && (file === undefined || r.path.endsWith(`/${file}`)));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const rec = {method: req.method ?? 'GET', path: url.pathname, range: req.headers.range ?? null, auth: req.headers.authorization ?? null};
    this.requests.push(rec);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {'Content-Type': 'application/json', ...headers});
      res.end(JSON.stringify(body));
    };
    const m =
      /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname) ??
      /^\/([^/]+\/[^/]+)\/(resolve)\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return json(404, {error: 'not found'});
    const [, id, kind, rawRev, file] = m as unknown as [string, string, string, string, string | undefined];
    const entry = this.repos.get(id);
    if (!entry) return json(404, {error: 'Repository not found'}, {'X-Error-Code': 'RepoNotFound'});
    if (entry.repo.token !== undefined && rec.auth !== `Bearer ${entry.repo.token}`) return json(401, {error: 'Invalid credentials in Authorization header'});
    const rev = decodeURIComponent(rawRev);
    if (rev !== 'main' && rev !== entry.commit) return json(404, {error: 'Invalid rev id'}, {'X-Error-Code': 'RevisionNotFound'});
    if (kind === 'revision') {
      const siblings = [...entry.files.keys()].map((rfilename) => ({rfilename}));
      return json(200, {_id: 'fake', id, sha: entry.commit, private: false, downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z', siblings});
    }
    if (kind === 'tree') {
      const list = [...entry.files].map(([p, f]) => ({type: 'file', oid: f.oid, size: f.bytes.length, path: p, ...(f.lfs ? {lfs: {oid: f.sha256, size: f.bytes.length, pointerSize: 134}} : {})}));
      return json(200, list);
    }
    const served = entry.files.get(decodeURIComponent(file!));
    if (!served) return json(404, {error: 'Entry not found'}, {'X-Error-Code': 'EntryNotFound'});
    this.serveFile(req, res, `${id}/${file}`, served, entry.commit);
  }

  private serveFile(req: http.IncomingMessage, res: http.ServerResponse, key: string, f: ServedFile, commit: string): void {
    let body = f.bytes;
    let start = 0;
    const size = body.length;
    const headers: Record<string, string> = {'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${f.lfs ? f.sha256 : f.oid}"`, 'X-Repo-Commit': commit};
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let status = 200;
    if (range) {
      start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, {'Content-Range': `bytes */${size}`});
        return void res.end();
      }
      body = body.subarray(start, end + 1);
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      status = 206;
    }
    const fault = this.faults.get(key);
    const probe = req.headers.range === 'bytes=0-0';
    if (fault && !probe && (fault.times ?? 1) > 0) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.kind === 'stall') {
        res.writeHead(status, {...headers, 'Content-Length': String(body.length)});
        res.write(body.subarray(0, fault.bytes ?? Math.floor(body.length / 2)));
        return; // the rest never comes (close() ends the connection)
      }
      if (fault.kind === 'corrupt') {
        body = Buffer.from(body);
        body[Math.floor(body.length / 2)]! ^= 0xff;
      } else {
        res.writeHead(status, {...headers, 'Content-Length': String(body.length)});
        // the body stops short: the connection closes a moment after the bytes were sent, so the
        // client has usually taken them in (a client drops what it had not read when a body fails)
        res.write(body.subarray(0, fault.bytes ?? Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.end(), 100));
        return;
      }
    }
    res.writeHead(status, {...headers, 'Content-Length': String(body.length)});
    res.end(body);
  }
}

/** Runs the built CLI without blocking this process's event loop (so a FakeHub here can answer). */
export function runCliAsync(args: string[], opts: {env?: Record<string, string>; cwd?: string} = {}): Promise<CliResult> {
  return runAsync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), ...args], opts);
}

/** Runs a program with the environment plus `env`, collecting its output; kills it after SPAWN_TIMEOUT_MS. */
export function runAsync(program: string, args: string[], opts: {env?: Record<string, string>; cwd?: string; input?: string} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {cwd: opts.cwd ?? PROJECT_ROOT, env: {...process.env, ...opts.env, NO_COLOR: '1'}});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), SPAWN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({code: code ?? -1, stdout, stderr});
    });
    child.stdin.end(opts.input ?? '');
  });
}
