/**
 * Offline resolution of model references through a Hugging Face cache laid out by hand the way
 * the Python tools write it (refs/<branch>, snapshots/<commit>/ symlinks into blobs/), and the
 * environment variables that place the cache, pick the hub and carry the token.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeEach, describe, expect, it} from 'vitest';
import {locateModel, notCachedError} from '../../../../src/core/model/hub/locate.js';
import {parseRepoRef, repoFolderName, repoIdOfFolder} from '../../../../src/core/model/hub/repo.js';
import {hubCacheDir, hubEndpoint, hubOffline, hubToken} from '../../../../src/core/model/hub/env.js';
import {HubError} from '../../../../src/core/errors.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-locate-'));
afterAll(() => fs.rmSync(root, {recursive: true, force: true}));

let cache: string;
beforeEach(() => {
  cache = fs.mkdtempSync(path.join(root, 'hub-'));
});

const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = 'b'.repeat(40);

/** A repo folder in the Python layout: each file a blob named by its sha256, linked from the snapshot. */
function writeRepo(id: string, commit: string, files: Record<string, string>, refs: Record<string, string> = {main: commit}): string {
  const repoDir = path.join(cache, repoFolderName(id));
  const snap = path.join(repoDir, 'snapshots', commit);
  fs.mkdirSync(snap, {recursive: true});
  fs.mkdirSync(path.join(repoDir, 'blobs'), {recursive: true});
  for (const [name, text] of Object.entries(files)) {
    const etag = crypto.createHash('sha256').update(text).digest('hex');
    fs.writeFileSync(path.join(repoDir, 'blobs', etag), text);
    fs.symlinkSync(`../../blobs/${etag}`, path.join(snap, name));
  }
  for (const [ref, c] of Object.entries(refs)) {
    fs.mkdirSync(path.dirname(path.join(repoDir, 'refs', ref)), {recursive: true});
    fs.writeFileSync(path.join(repoDir, 'refs', ref), c);
  }
  return repoDir;
}

const MODEL = {'config.json': '{}', 'model.safetensors': 'weights'};

describe('parseRepoRef', () => {
  it('takes org/name with an optional @revision, and nothing that is not one', () => {
    expect(parseRepoRef('TinyLlama/TinyLlama-1.1B-Chat-v1.0')).toEqual({id: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', revision: 'main'});
    expect(parseRepoRef('org/name@v1.2')).toEqual({id: 'org/name', revision: 'v1.2'});
    expect(parseRepoRef('org/name@refs/pr/1')).toEqual({id: 'org/name', revision: 'refs/pr/1'});
    for (const bad of ['name', './org/name', '/abs/path', 'a/b/c', 'org/na--me', 'org/..', 'org/name@', 'org/name@../x', 'org/-x', 'org/name@a b']) {
      expect(parseRepoRef(bad), bad).toBeNull();
    }
    expect(repoFolderName('org/name')).toBe('models--org--name');
    expect(repoIdOfFolder('models--org--name')).toBe('org/name');
    expect(repoIdOfFolder('datasets--org--name')).toBeNull();
  });
});

describe('locateModel', () => {
  it('resolves org/name through refs/main to its snapshot, without the network', () => {
    writeRepo('org/model', COMMIT_A, MODEL);
    const loc = locateModel('org/model', cache);
    expect(loc).toEqual({kind: 'cached', dir: path.join(cache, 'models--org--model', 'snapshots', COMMIT_A), repo: {id: 'org/model', revision: 'main'}, commit: COMMIT_A});
    expect(fs.readFileSync(path.join((loc as {dir: string}).dir, 'model.safetensors'), 'utf8')).toBe('weights');
  });

  it('resolves @branch through refs/ and @commit to its snapshot', () => {
    writeRepo('org/model', COMMIT_A, MODEL, {main: COMMIT_A, 'refs/pr/2': COMMIT_B});
    writeRepo('org/model', COMMIT_B, MODEL, {});
    expect(locateModel('org/model@refs/pr/2', cache)).toMatchObject({kind: 'cached', commit: COMMIT_B});
    expect(locateModel(`org/model@${COMMIT_B}`, cache)).toMatchObject({kind: 'cached', commit: COMMIT_B});
    expect(locateModel('org/model@v2', cache)).toMatchObject({kind: 'absent', snapshot: null});
  });

  it('takes a models--org--name folder as its main snapshot (or its only one)', () => {
    const repoDir = writeRepo('org/model', COMMIT_A, MODEL);
    expect(locateModel(repoDir, cache)).toMatchObject({kind: 'cached', dir: path.join(repoDir, 'snapshots', COMMIT_A), repo: {id: 'org/model'}});
    fs.rmSync(path.join(repoDir, 'refs'), {recursive: true});
    expect(locateModel(repoDir, cache)).toMatchObject({kind: 'cached', commit: COMMIT_A});
    writeRepo('org/model', COMMIT_B, MODEL, {});
    expect(() => locateModel(repoDir, cache)).toThrow(HubError);
    expect(() => locateModel(repoDir, cache)).toThrow(/is a Hugging Face cache folder with no snapshot for main .*`hire pull org\/model`/);
  });

  it('keeps a directory that exists as a path, even when its name looks like an id', () => {
    const dir = path.join(root, 'org', 'model');
    fs.mkdirSync(dir, {recursive: true});
    const cwd = process.cwd();
    process.chdir(root);
    try {
      writeRepo('org/model', COMMIT_A, MODEL);
      expect(locateModel('org/model', cache)).toEqual({kind: 'path', dir: 'org/model'});
    } finally {
      process.chdir(cwd);
    }
    expect(locateModel('/no/such/dir', cache)).toEqual({kind: 'path', dir: '/no/such/dir'});
  });

  it('reports an id the cache lacks, or holds without weights (a dangling link counts as missing)', () => {
    expect(locateModel('org/absent', cache)).toEqual({kind: 'absent', repo: {id: 'org/absent', revision: 'main'}, cacheDir: cache, snapshot: null, missing: []});
    const repoDir = writeRepo('org/partial', COMMIT_A, MODEL);
    fs.rmSync(path.join(repoDir, 'blobs'), {recursive: true});
    fs.mkdirSync(path.join(repoDir, 'blobs'));
    fs.writeFileSync(path.join(repoDir, 'snapshots', COMMIT_A, 'config.json'), '{}');
    expect(locateModel('org/partial', cache)).toMatchObject({kind: 'absent', missing: ['model.safetensors']});
  });

  it('says what to do when a model is not cached: hire pull, the download option, or HF_HUB_OFFLINE', () => {
    const loc = locateModel('org/absent@v1', cache);
    if (loc.kind !== 'absent') throw new Error('expected absent');
    const err = notCachedError(loc, false);
    expect(err).toMatchObject({code: 'E_HUB', repo: 'org/absent@v1', option: 'download'});
    expect(err.message).toBe(`org/absent@v1: not in the Hugging Face cache ${cache} (and no directory of that name here); download it first with \`hire pull org/absent@v1\`, or load it with \`download: true\``);
    expect(notCachedError(loc, true).message).toMatch(/HF_HUB_OFFLINE is set, so it cannot be downloaded; unset HF_HUB_OFFLINE to download it, or copy its models--org--absent folder into the cache$/);
  });
});

describe('the Hugging Face environment', () => {
  it('places the cache as the Python tools do', () => {
    expect(hubCacheDir({HF_HUB_CACHE: '/a', HF_HOME: '/b'})).toBe('/a');
    expect(hubCacheDir({HUGGINGFACE_HUB_CACHE: '/c', HF_HOME: '/b'})).toBe('/c');
    expect(hubCacheDir({HF_HOME: '/b', XDG_CACHE_HOME: '/x'})).toBe('/b/hub');
    expect(hubCacheDir({XDG_CACHE_HOME: '/x'})).toBe('/x/huggingface/hub');
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });

  it('reads the endpoint, HF_HUB_OFFLINE and the token (HF_TOKEN, else the saved login)', () => {
    expect(hubEndpoint({})).toBe('https://huggingface.co');
    expect(hubEndpoint({HF_ENDPOINT: 'http://127.0.0.1:9/'})).toBe('http://127.0.0.1:9');
    expect(hubOffline({HF_HUB_OFFLINE: '1'})).toBe(true);
    expect(hubOffline({HF_HUB_OFFLINE: 'True'})).toBe(true);
    expect(hubOffline({HF_HUB_OFFLINE: '0'})).toBe(false);
    const home = fs.mkdtempSync(path.join(root, 'home-'));
    expect(hubToken({HF_HOME: home})).toBeUndefined();
    fs.writeFileSync(path.join(home, 'token'), 'hf_saved\n');
    expect(hubToken({HF_HOME: home})).toBe('hf_saved');
    expect(hubToken({HF_HOME: home, HF_TOKEN: 'hf_env'})).toBe('hf_env');
  });
});
