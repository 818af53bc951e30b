/**
 * `hire pull org/name:TAG` and `--download` on a repo of GGUF files, against a loopback fake Hub
 * (HF_ENDPOINT) into a temporary Hugging Face home (HF_HOME): only the tagged file is fetched,
 * `hire generate org/name:TAG` then decodes it from the cache without a request (the same tokens
 * as the file given by path), `hire cache list` names the tag, and a tag the cache lacks, several
 * files without a tag and a malformed tag are one line each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {ggufFromCheckpoint} from '../helpers/gguf-writer.js';
import {FakeHub, runCliAsync} from '../helpers/fake-hub.js';

const ID = 'test-org/tiny-GGUF';
const TINY = {family: 'llama' as const, dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 16, seed: 9};
const GREEDY = ['--tokens', '1,40,7', '-n', '4', '--temperature', '0', '--json'];

let root: string;
let repo: string;
let hub: FakeHub;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-pull-gguf-'));
  writeSyntheticCheckpoint(path.join(root, 'ckpt'), TINY);
  repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  ggufFromCheckpoint(path.join(root, 'ckpt'), path.join(repo, 'tiny.Q4_0.gguf'), {type: 'Q4_0'});
  ggufFromCheckpoint(path.join(root, 'ckpt'), path.join(repo, 'tiny.Q8_0.gguf'), {type: 'Q8_0'});
  fs.writeFileSync(path.join(repo, 'README.md'), '# GGUF files\n');
  hub = await FakeHub.start([{id: ID, dir: repo}]);
});

afterAll(async () => {
  await hub.close();
  fs.rmSync(root, {recursive: true, force: true});
});

beforeEach(() => {
  home = fs.mkdtempSync(path.join(root, 'home-'));
  env = {HF_HOME: home, HF_ENDPOINT: hub.url, HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '', HF_HUB_OFFLINE: '', HF_TOKEN: '', HIRE_CACHE_DIR: path.join(home, 'hire')};
  hub.requests.length = 0;
});

describe('GGUF repos on the command line', () => {
  it('pull org/name:Q4_0 fetches that file only; generate then takes the id with no request; cache list names the tag', async () => {
    const r = await runCliAsync(['pull', `${ID}:Q4_0`], {env});
    expect(r.code, r.stderr).toBe(0);
    const commit = hub.commitOf(ID);
    const repoDir = path.join(home, 'hub', 'models--test-org--tiny-GGUF');
    const file = path.join(repoDir, 'snapshots', commit, 'tiny.Q4_0.gguf');
    expect(r.stdout).toMatch(new RegExp(`^${ID}:Q4_0 at commit ${commit}: 1 files downloaded \\([\\d.]+ KB\\), 0 already cached\\n${file.replace(/[.]/g, '\\.')}\\n$`));
    expect(fs.readdirSync(path.join(repoDir, 'blobs'))).toEqual([hub.etagOf(ID, 'tiny.Q4_0.gguf')]);
    expect(fs.readdirSync(path.join(repoDir, 'snapshots', commit))).toEqual(['tiny.Q4_0.gguf']);

    hub.requests.length = 0;
    const byId = await runCliAsync(['generate', `${ID}:Q4_0`, ...GREEDY], {env});
    expect(byId.code, byId.stderr).toBe(0);
    const byFile = await runCliAsync(['generate', path.join(repo, 'tiny.Q4_0.gguf'), ...GREEDY], {env});
    expect(JSON.parse(byId.stdout).tokenIds).toEqual(JSON.parse(byFile.stdout).tokenIds);
    expect(hub.requests).toEqual([]);

    const list = await runCliAsync(['cache', 'list', '--json'], {env});
    const entry = JSON.parse(list.stdout).entries.find((e: {name: string}) => e.name === ID);
    expect(entry.about).toBe(`Hugging Face model; main ${commit.slice(0, 7)}; 1 snapshot; GGUF Q4_0`);
  });

  it('a tag the cache lacks names `hire pull` with the tag; --download fetches just that file', async () => {
    await runCliAsync(['pull', `${ID}:Q4_0`], {env});
    hub.requests.length = 0;
    const absent = await runCliAsync(['generate', `${ID}:q8_0`, ...GREEDY], {env});
    expect(absent.code).toBe(1);
    const snapshot = path.join(home, 'hub', 'models--test-org--tiny-GGUF', 'snapshots', hub.commitOf(ID));
    expect(absent.stderr).toBe(`hire: ${ID}:q8_0: the cached snapshot ${snapshot} lacks a GGUF file tagged q8_0; download it first with \`hire pull ${ID}:q8_0\`, or add --download\n`);
    expect(hub.requests).toEqual([]);

    const fetched = await runCliAsync(['generate', `${ID}:q8_0`, '--download', ...GREEDY], {env});
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(hub.transfers().map((t) => path.basename(t.path))).toEqual(['tiny.Q8_0.gguf']);
    const byFile = await runCliAsync(['generate', path.join(repo, 'tiny.Q8_0.gguf'), ...GREEDY], {env});
    expect(JSON.parse(fetched.stdout).tokenIds).toEqual(JSON.parse(byFile.stdout).tokenIds);
  });

  it('several GGUF files without a tag, and a malformed tag: one line each', async () => {
    const several = await runCliAsync(['pull', ID], {env});
    expect(several.code).toBe(1);
    expect(several.stderr).toBe(`hire: ${ID}: holds several GGUF files: add :Q4_0 or :Q8_0 to the id\n`);
    const bad = await runCliAsync(['generate', `${ID}:Q4 0`, ...GREEDY], {env});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`hire: model "${ID}:Q4 0": "Q4 0" after ':' is not a GGUF quant tag (such as Q4_0 or Q4_K_M) or a .gguf file name; give it as org/name[@revision]:TAG\n`);
    expect(hub.transfers()).toEqual([]);
  });
});
