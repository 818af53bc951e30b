/**
 * Downloads into the Hugging Face cache layout against a loopback fake Hub: the layout the Python
 * tools use (refs/main, snapshots/<commit>/ links into blobs/<hash>), only the files hire loads,
 * verified, resumed after an interruption, refused when corrupt, and each failure in one line.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {pullRepo, type PullOptions} from '../../../../src/core/model/hub/download.js';
import {openModel} from '../../../../src/core/model/load.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {HubError} from '../../../../src/core/errors.js';
import {FakeHub} from '../../../helpers/fake-hub.js';
import {rejection} from '../../../helpers/caught.js';

const TINY = {family: 'llama' as const, dim: 16, nLayers: 2, nHeads: 2, hiddenDim: 32, vocabSize: 40, maxSeqLen: 16, seed: 3};

let hub: FakeHub;
let root: string;
let cacheDir: string;
let tiny: string;
let sharded: string;

function opts(extra: Partial<PullOptions> = {}): PullOptions {
  return {cacheDir, endpoint: hub.url, ...extra};
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-hub-'));
  tiny = path.join(root, 'tiny');
  writeSyntheticCheckpoint(tiny, TINY);
  fs.writeFileSync(path.join(tiny, 'README.md'), '# a model card hire does not read\n');
  fs.writeFileSync(path.join(tiny, 'pytorch_model.bin'), 'weights in a format hire does not read');
  sharded = path.join(root, 'sharded');
  writeSyntheticCheckpoint(sharded, TINY, {maxShardBytes: 4096});
  fs.writeFileSync(path.join(sharded, 'model-00099-of-00099.safetensors'), 'a shard the index does not list');
  const pytorchOnly = path.join(root, 'pytorch-only');
  fs.mkdirSync(pytorchOnly);
  fs.copyFileSync(path.join(tiny, 'config.json'), path.join(pytorchOnly, 'config.json'));
  fs.writeFileSync(path.join(pytorchOnly, 'pytorch_model.bin'), 'pickled weights');
  hub = await FakeHub.start([
    {id: 'test-org/tiny', dir: tiny},
    {id: 'test-org/sharded', dir: sharded},
    {id: 'test-org/gated', dir: tiny, token: 'hf_secret'},
    {id: 'test-org/pytorch-only', dir: pytorchOnly},
  ]);
});

afterAll(async () => {
  await hub.close();
  fs.rmSync(root, {recursive: true, force: true});
});

beforeEach(() => {
  cacheDir = fs.mkdtempSync(path.join(root, 'cache-'));
  hub.requests.length = 0;
});

describe('pullRepo', () => {
  it('lays the files hire loads out as the Python tools do: refs/main, snapshot links into blobs named by hash', async () => {
    const r = await pullRepo({id: 'test-org/tiny', revision: 'main'}, opts());
    const commit = hub.commitOf('test-org/tiny');
    const repoDir = path.join(cacheDir, 'models--test-org--tiny');
    expect(r).toMatchObject({repo: 'test-org/tiny', revision: 'main', commit, dir: path.join(repoDir, 'snapshots', commit)});
    expect(fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit);
    expect(fs.readdirSync(r.dir).sort()).toEqual(['config.json', 'model.safetensors']);
    for (const file of ['config.json', 'model.safetensors']) {
      const link = path.join(r.dir, file);
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(link)).toBe(path.join('..', '..', 'blobs', hub.etagOf('test-org/tiny', file)));
      expect(fs.readFileSync(link)).toEqual(fs.readFileSync(path.join(tiny, file)));
    }
    expect(hub.etagOf('test-org/tiny', 'model.safetensors')).toBe(sha256(path.join(tiny, 'model.safetensors')));
    expect(r.files.map((f) => [f.file, f.downloaded])).toEqual([['config.json', true], ['model.safetensors', true]]);
    expect(hub.transfers().map((t) => path.basename(t.path)).sort()).toEqual(['config.json', 'model.safetensors']);
    const source = openModel(r.dir);
    source.checkpoint.close();
  });

  it('downloads nothing a second time, and follows the index to its shards only', async () => {
    await pullRepo({id: 'test-org/tiny', revision: 'main'}, opts());
    hub.requests.length = 0;
    const again = await pullRepo({id: 'test-org/tiny', revision: 'main'}, opts());
    expect(again.files.every((f) => !f.downloaded)).toBe(true);
    expect(hub.transfers()).toEqual([]);

    const s = await pullRepo({id: 'test-org/sharded', revision: 'main'}, opts());
    const shards = fs.readdirSync(sharded).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f) && !f.startsWith('model-00099'));
    expect(shards.length).toBeGreaterThan(1);
    expect(fs.readdirSync(s.dir).sort()).toEqual(['config.json', 'model.safetensors.index.json', ...shards].sort());
    openModel(s.dir).checkpoint.close();
  });

  it('takes a commit hash as the revision without asking which commit it is, and writes no ref', async () => {
    const commit = hub.commitOf('test-org/tiny');
    const r = await pullRepo({id: 'test-org/tiny', revision: commit}, opts());
    expect(r.commit).toBe(commit);
    expect(hub.requests.some((q) => q.path.includes('/revision/'))).toBe(false);
    expect(fs.existsSync(path.join(cacheDir, 'models--test-org--tiny', 'refs'))).toBe(false);
  });

  it('resumes an interrupted file from the bytes it kept, asking only for the rest', async () => {
    const size = fs.statSync(path.join(tiny, 'model.safetensors')).size;
    hub.fault('test-org/tiny', 'model.safetensors', {kind: 'cut', bytes: 5000});
    const first = pullRepo({id: 'test-org/tiny', revision: 'main'}, opts());
    await expect(first).rejects.toThrow(HubError);
    const message = (await rejection(first)).message;
    // the bytes that reached the file: those sent, less any still in flight when the server closed
    const kept = new RegExp(`^test-org/tiny: download of model.safetensors stopped after (\\d+) of ${size} bytes \\(.+\\); run it again to resume$`).exec(message);
    expect(kept, message).not.toBeNull();
    const have = Number(kept![1]);
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(5000);
    const repoDir = path.join(cacheDir, 'models--test-org--tiny');
    const etag = hub.etagOf('test-org/tiny', 'model.safetensors');
    expect(fs.statSync(path.join(repoDir, 'blobs', `${etag}.incomplete`)).size).toBe(have);
    expect(fs.existsSync(path.join(repoDir, 'refs', 'main'))).toBe(false); // the ref is written last

    hub.requests.length = 0;
    const progress: number[] = [];
    const r = await pullRepo({id: 'test-org/tiny', revision: 'main'}, opts({onFile: (f, done) => f === 'model.safetensors' && progress.push(done)}));
    expect(hub.transfers('model.safetensors').map((t) => t.range)).toEqual([`bytes=${have}-${size - 1}`]);
    expect(progress[0]).toBe(have);
    expect(progress.at(-1)).toBe(size);
    expect(sha256(path.join(r.dir, 'model.safetensors'))).toBe(etag);
    expect(fs.existsSync(path.join(repoDir, 'blobs', `${etag}.incomplete`))).toBe(false);
  });

  it('refuses a corrupt file: no blob, no link, no partial file, one line saying to download again', async () => {
    hub.fault('test-org/tiny', 'model.safetensors', {kind: 'corrupt'});
    const err = await rejection(pullRepo({id: 'test-org/tiny', revision: 'main'}, opts()));
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/^test-org\/tiny: model\.safetensors arrived corrupt \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\); the partial file was removed: download it again$/);
    const repoDir = path.join(cacheDir, 'models--test-org--tiny');
    expect(fs.readdirSync(path.join(repoDir, 'blobs'))).toEqual([hub.etagOf('test-org/tiny', 'config.json')]);
    expect(fs.readdirSync(path.join(repoDir, 'snapshots', hub.commitOf('test-org/tiny')))).toEqual(['config.json']);
    const r = await pullRepo({id: 'test-org/tiny', revision: 'main'}, opts());
    expect(sha256(path.join(r.dir, 'model.safetensors'))).toBe(hub.etagOf('test-org/tiny', 'model.safetensors'));
  });

  it('sends the token for a gated model, and says what to do without one', async () => {
    const refused = await rejection(pullRepo({id: 'test-org/gated', revision: 'main'}, opts()));
    expect(refused.message).toMatch(/^test-org\/gated: http:\/\/127\.0\.0\.1:\d+ refused it \(HTTP 401\).*set HF_TOKEN$/);
    const r = await pullRepo({id: 'test-org/gated', revision: 'main'}, opts({token: 'hf_secret'}));
    expect(fs.existsSync(path.join(r.dir, 'model.safetensors'))).toBe(true);
    expect(hub.requests.filter((q) => q.path.includes('gated')).every((q) => q.auth === null || q.auth === 'Bearer hf_secret')).toBe(true);
    await expect(pullRepo({id: 'test-org/gated', revision: 'main'}, opts({token: 'secret'}))).rejects.toThrow(/not a Hugging Face access token \(those start with hf_\)/);
  });

  it('names an unknown model or revision, and an unreachable hub, in one line', async () => {
    await expect(pullRepo({id: 'test-org/nothing', revision: 'main'}, opts())).rejects.toThrow(/^test-org\/nothing: http:\/\/127\.0\.0\.1:\d+ has no such model or revision \(HTTP 404\)/);
    await expect(pullRepo({id: 'test-org/tiny', revision: 'v9'}, opts())).rejects.toThrow(/^test-org\/tiny@v9: .* has no such model or revision/);
    const closed = await FakeHub.start([]);
    const endpoint = closed.url;
    await closed.close();
    const err = await rejection(pullRepo({id: 'test-org/tiny', revision: 'main'}, opts({endpoint})));
    expect(err.message).toBe(
      `test-org/tiny: cannot reach ${endpoint} (fetch failed: ECONNREFUSED); check the network connection (HF_ENDPOINT sets another hub), or copy the model's models--test-org--tiny folder into ${cacheDir} and load it without downloading`,
    );
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('refuses a repo without safetensors weights before fetching anything', async () => {
    await expect(pullRepo({id: 'test-org/pytorch-only', revision: 'main'}, opts())).rejects.toThrow(
      'test-org/pytorch-only: holds neither model.safetensors nor model.safetensors.index.json nor a GGUF file: hire loads safetensors weights or GGUF files only',
    );
    expect(hub.transfers()).toEqual([]);
  });

  it('stops with AbortError when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(pullRepo({id: 'test-org/tiny', revision: 'main'}, opts({signal: controller.signal}))).rejects.toMatchObject({code: 'E_ABORTED'});
  });
});
