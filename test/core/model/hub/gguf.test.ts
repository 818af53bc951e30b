/**
 * Repos of GGUF files on the Hub (one file per quantisation, as most local-LLM repos are), named
 * `org/name:TAG` as llama.cpp and ollama users name them: against a loopback fake Hub, the tag
 * picks one file and only that file is downloaded into the standard cache layout; the cache then
 * serves the same id offline as that file's path; a repo of one GGUF file needs no tag; and each
 * wrong choice (several files and no tag, a tag no file has, a tag on a safetensors repo, a split
 * file, a malformed tag) is one line that says what to write instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {pullRepo, type PullOptions} from '../../../../src/core/model/hub/download.js';
import {locateModel, notCachedError} from '../../../../src/core/model/hub/locate.js';
import {formatRepoRef, parseRepoRef, type RepoRef} from '../../../../src/core/model/hub/repo.js';
import {chooseGguf, quantTag} from '../../../../src/core/model/hub/gguf-files.js';
import {openModel} from '../../../../src/core/model/load.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {HubError, UsageError} from '../../../../src/core/errors.js';
import {ggufFromCheckpoint} from '../../../helpers/gguf-writer.js';
import {FakeHub} from '../../../helpers/fake-hub.js';
import {caught, rejection} from '../../../helpers/caught.js';

const TINY = {family: 'llama' as const, dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 16, seed: 5};

let hub: FakeHub;
let root: string;
let cacheDir: string;

const opts = (): PullOptions => ({cacheDir, endpoint: hub.url});
const ref = (id: string, tag?: string): RepoRef => ({id, revision: 'main', ...(tag === undefined ? {} : {tag})});
const repoDir = (id: string) => path.join(cacheDir, `models--${id.replace('/', '--')}`);

/** A folder of repo files: GGUF files written from one synthetic checkpoint, plus extra text files. */
function repoFolder(name: string, ggufs: Record<string, 'F32' | 'F16' | 'Q8_0' | 'Q4_0'>, extra: Record<string, string> = {}): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  for (const [file, type] of Object.entries(ggufs)) ggufFromCheckpoint(path.join(root, 'ckpt'), path.join(dir, file), {type});
  for (const [file, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, file), text);
  return dir;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-hub-gguf-'));
  writeSyntheticCheckpoint(path.join(root, 'ckpt'), TINY);
  const card = {'README.md': '# GGUF files of a tiny model\n', 'config.json': '{"model_type": "llama"}\n'};
  const several = repoFolder('several', {'tiny.Q4_0.gguf': 'Q4_0', 'tiny.Q4_K_M.gguf': 'F16', 'tiny.Q8_0.gguf': 'Q8_0', 'mmproj-tiny-f16.gguf': 'F16'}, card);
  const one = repoFolder('one', {'tiny-q8_0.gguf': 'Q8_0'}, {'README.md': '# one file\n'});
  const split = repoFolder('split', {'big-Q8_0-00001-of-00002.gguf': 'Q8_0', 'big-Q8_0-00002-of-00002.gguf': 'F32', 'small.Q4_0.gguf': 'Q4_0'});
  hub = await FakeHub.start([
    {id: 'test-org/tiny-GGUF', dir: several},
    {id: 'test-org/one-GGUF', dir: one},
    {id: 'test-org/split-GGUF', dir: split},
    {id: 'test-org/tiny', dir: path.join(root, 'ckpt')},
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

describe('a Hugging Face id with a GGUF tag', () => {
  it('parses org/name[@revision]:TAG and writes it back; a malformed tag is one UsageError line', () => {
    expect(parseRepoRef('TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M')).toEqual({id: 'TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF', revision: 'main', tag: 'Q4_K_M'});
    expect(parseRepoRef('org/name@v1:q8_0')).toEqual({id: 'org/name', revision: 'v1', tag: 'q8_0'});
    expect(parseRepoRef('org/name:tiny.Q4_0.gguf')).toEqual({id: 'org/name', revision: 'main', tag: 'tiny.Q4_0.gguf'});
    expect(formatRepoRef({id: 'org/name', revision: 'v1', tag: 'Q4_0'})).toBe('org/name@v1:Q4_0');
    expect(parseRepoRef('./dir:Q4_0')).toBeNull(); // not an id: a path
    for (const bad of ['org/name:', 'org/name:Q4 0', 'org/name:Q4_0@main', 'org/name:a:b', 'org/name:../x.gguf']) {
      const err = caught(() => parseRepoRef(bad));
      expect(err, bad).toBeInstanceOf(UsageError);
      expect(err.message, bad).toMatch(/^model ".*": ".*" after ':' is not a GGUF quant tag \(such as Q4_0 or Q4_K_M\) or a \.gguf file name; give it as org\/name\[@revision\]:TAG$/);
    }
  });

  it('reads the quant tag that ends a GGUF file name', () => {
    const tags = ['tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf', 'Llama-3.2-1B-Instruct-IQ4_XS.gguf', 'qwen2.5-0.5b-instruct-q8_0.gguf', 'model-BF16.gguf', 'ggml-model-f16.gguf', 'big-Q8_0-00001-of-00002.gguf', 'model.gguf'];
    expect(tags.map(quantTag)).toEqual(['Q4_K_M', 'IQ4_XS', 'q8_0', 'BF16', 'f16', 'Q8_0', null]);
  });

  it('a tag two files share asks for a file name, which picks exactly; a name no file has lists the tags', () => {
    const names = ['m-Q4_K_M.gguf', 'm-UD-Q4_K_M.gguf', 'mmproj-m-f16.gguf', 'README.md'];
    expect(() => chooseGguf(ref('o/n', 'q4_k_m'), names)).toThrow(new HubError('o/n:q4_k_m', ":q4_k_m matches several GGUF files (m-Q4_K_M.gguf, m-UD-Q4_K_M.gguf); give one file's name after ':' instead"));
    expect(chooseGguf(ref('o/n', 'm-UD-Q4_K_M.gguf'), names)).toBe('m-UD-Q4_K_M.gguf');
    expect(() => chooseGguf(ref('o/n', 'x.gguf'), names)).toThrow(new HubError('o/n:x.gguf', 'holds no GGUF file of that name; its GGUF files: :m-Q4_K_M.gguf or :m-UD-Q4_K_M.gguf'));
  });

  it('downloads only the file the tag names (case-insensitively) into blobs + snapshots + refs; the cache then serves the id offline', async () => {
    const id = 'test-org/tiny-GGUF';
    const r = await pullRepo(ref(id, 'q8_0'), opts());
    const commit = hub.commitOf(id);
    expect(r).toMatchObject({repo: id, commit, gguf: 'tiny.Q8_0.gguf', dir: path.join(repoDir(id), 'snapshots', commit)});
    expect(r.files.map((f) => [f.file, f.downloaded])).toEqual([['tiny.Q8_0.gguf', true]]);
    expect(hub.transfers().map((t) => path.basename(t.path))).toEqual(['tiny.Q8_0.gguf']);
    expect(fs.readdirSync(path.join(repoDir(id), 'blobs'))).toEqual([hub.etagOf(id, 'tiny.Q8_0.gguf')]);
    expect(fs.readdirSync(r.dir)).toEqual(['tiny.Q8_0.gguf']);
    expect(fs.readFileSync(path.join(repoDir(id), 'refs', 'main'), 'utf8')).toBe(commit);

    hub.requests.length = 0;
    const file = path.join(r.dir, 'tiny.Q8_0.gguf');
    for (const name of [`${id}:Q8_0`, `${id}:q8_0`, `${id}:tiny.Q8_0.gguf`, id]) {
      expect(locateModel(name, cacheDir), name).toMatchObject({kind: 'cached', dir: file, commit});
    }
    const source = openModel(file);
    expect(source.config.dim).toBe(TINY.dim);
    source.checkpoint.close();

    const other = locateModel(`${id}:Q4_0`, cacheDir);
    expect(other).toMatchObject({kind: 'absent', snapshot: r.dir, missing: ['a GGUF file tagged Q4_0']});
    if (other.kind !== 'absent') throw new Error('expected absent');
    expect(notCachedError(other, false).message).toBe(`${id}:Q4_0: the cached snapshot ${r.dir} lacks a GGUF file tagged Q4_0; download it first with \`hire pull ${id}:Q4_0\`, or load it with \`download: true\``);
    expect(hub.requests).toEqual([]);

    // a second file in the same snapshot: the untagged id no longer says which
    await pullRepo(ref(id, 'Q4_K_M'), opts());
    expect(fs.readdirSync(r.dir).sort()).toEqual(['tiny.Q4_K_M.gguf', 'tiny.Q8_0.gguf']);
    expect(locateModel(`${id}:Q4_K_M`, cacheDir)).toMatchObject({kind: 'cached', dir: path.join(r.dir, 'tiny.Q4_K_M.gguf')});
    expect(() => locateModel(id, cacheDir)).toThrow(new HubError(id, 'holds several GGUF files: add :Q4_K_M or :Q8_0 to the id'));
  });

  it('without a tag: the only GGUF file; several: one line listing their tags, before anything is fetched', async () => {
    const r = await pullRepo(ref('test-org/one-GGUF'), opts());
    expect(r.gguf).toBe('tiny-q8_0.gguf');
    expect(fs.readdirSync(r.dir)).toEqual(['tiny-q8_0.gguf']);
    expect(locateModel('test-org/one-GGUF', cacheDir)).toMatchObject({kind: 'cached', dir: path.join(r.dir, 'tiny-q8_0.gguf')});
    // the models--org--name folder given as a path stands for the same file
    expect(locateModel(repoDir('test-org/one-GGUF'), cacheDir)).toMatchObject({kind: 'cached', dir: path.join(r.dir, 'tiny-q8_0.gguf')});

    hub.requests.length = 0;
    const err = await rejection(pullRepo(ref('test-org/tiny-GGUF'), opts()));
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toBe('test-org/tiny-GGUF: holds several GGUF files: add :Q4_0, :Q4_K_M or :Q8_0 to the id');
    expect(hub.transfers()).toEqual([]);
  });

  it('a tag no file has, a tag on a safetensors repo, a split file: one line each, nothing fetched', async () => {
    await expect(pullRepo(ref('test-org/tiny-GGUF', 'Q5_0'), opts())).rejects.toThrow(
      new HubError('test-org/tiny-GGUF:Q5_0', 'holds no GGUF file tagged Q5_0; its GGUF files: :Q4_0, :Q4_K_M or :Q8_0'),
    );
    await expect(pullRepo(ref('test-org/tiny', 'Q4_0'), opts())).rejects.toThrow(
      new HubError('test-org/tiny:Q4_0', 'holds safetensors weights and no GGUF files, so :Q4_0 picks nothing; give it as test-org/tiny to download the checkpoint'),
    );
    await expect(pullRepo(ref('test-org/split-GGUF', 'Q8_0'), opts())).rejects.toThrow(
      new HubError('test-org/split-GGUF:Q8_0', "big-Q8_0-00001-of-00002.gguf is one part of a GGUF file split in 2 parts; hire loads single-file GGUF only (llama.cpp's gguf-split --merge joins the parts)"),
    );
    await expect(pullRepo(ref('test-org/split-GGUF'), opts())).rejects.toThrow('test-org/split-GGUF: holds several GGUF files: add :Q8_0 or :Q4_0 to the id');
    expect(hub.transfers()).toEqual([]);
    // the safetensors repo without a tag keeps its route
    const plain = await pullRepo(ref('test-org/tiny'), opts());
    expect(plain.gguf).toBeUndefined();
    expect(fs.readdirSync(plain.dir).sort()).toEqual(['config.json', 'model.safetensors']);
  });
});
