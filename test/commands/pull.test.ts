/**
 * `hire pull` against a loopback fake Hub serving llama2xs (HF_ENDPOINT), into a temporary
 * Hugging Face home (HF_HOME): the summary, nothing on stderr off a terminal and a bar per file on
 * one, resuming after a dropped connection, one line for each failure; and every command taking
 * the id afterwards with the Hub unreachable.
 */
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {FakeHub, runAsync, runCliAsync} from '../helpers/fake-hub.js';
import {HAVE_SHARED, LLAMA2XS_DIR, PROJECT_ROOT} from '../helpers/shared.js';

const ID = 'shared/llama2xs';
let hub: FakeHub;
let closedUrl: string;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  hub = await FakeHub.start(HAVE_SHARED ? [{id: ID, dir: LLAMA2XS_DIR}] : []);
  const closed = await FakeHub.start([]);
  closedUrl = closed.url;
  await closed.close();
});
afterAll(() => hub.close());

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-pull-'));
  env = {HF_HOME: home, HF_ENDPOINT: hub.url, HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '', HF_HUB_OFFLINE: '', HF_TOKEN: '', HIRE_CACHE_DIR: path.join(home, 'hire')};
  hub.requests.length = 0;
});

describe.runIf(HAVE_SHARED)('hire pull', () => {
  it('downloads into the Hugging Face cache and says what it did; then generate takes the id with the Hub unreachable', async () => {
    const r = await runCliAsync(['pull', ID], {env});
    expect(r.stderr).toBe(''); // no bars off a terminal
    expect(r.code).toBe(0);
    const commit = hub.commitOf(ID);
    const dir = path.join(home, 'hub', 'models--shared--llama2xs', 'snapshots', commit);
    expect(r.stdout).toBe(`${ID} at commit ${commit}: 6 files downloaded (1.14 MB), 0 already cached\n${dir}\n`);

    const again = await runCliAsync(['pull', ID, '--json'], {env});
    expect(JSON.parse(again.stdout)).toMatchObject({repo: ID, revision: 'main', commit, dir});
    expect(JSON.parse(again.stdout).files.every((f: {downloaded: boolean}) => !f.downloaded)).toBe(true);

    const offline = {...env, HF_ENDPOINT: closedUrl};
    const args = ['--tokens', '1,403,407', '-n', '6', '--temperature', '0', '--json'];
    const byId = await runCliAsync(['generate', ID, ...args], {env: offline});
    const byDir = await runCliAsync(['generate', LLAMA2XS_DIR, ...args], {env: offline});
    expect(byId.code, byId.stderr).toBe(0);
    expect(JSON.parse(byId.stdout).tokenIds).toEqual(JSON.parse(byDir.stdout).tokenIds);
    const folder = await runCliAsync(['generate', path.join(home, 'hub', 'models--shared--llama2xs'), ...args], {env: offline});
    expect(JSON.parse(folder.stdout).tokenIds).toEqual(JSON.parse(byDir.stdout).tokenIds);
  });

  it('an id not in the cache: one line naming `hire pull` and --download, and no request; inspect names pull only', async () => {
    const r = await runCliAsync(['generate', ID, '-p', 'Once'], {env});
    expect(r.code).toBe(1);
    const absent = `hire: ${ID}: not in the Hugging Face cache ${path.join(home, 'hub')} (and no directory of that name here); download it first with \`hire pull ${ID}\``;
    expect(r.stderr).toBe(`${absent}, or add --download\n`);
    const inspected = await runCliAsync(['inspect', ID], {env});
    expect(inspected.stderr).toBe(`${absent}, then run this again\n`);
    expect(hub.requests).toEqual([]);
  });

  it('--download fetches a missing id into the cache before the command runs (generate); inspect then reads it from the cache', async () => {
    const args = ['--tokens', '1,403,407', '-n', '4', '--temperature', '0', '--json'];
    const r = await runCliAsync(['generate', ID, '--download', ...args], {env});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // no bars off a terminal
    const byDir = await runCliAsync(['generate', LLAMA2XS_DIR, ...args], {env});
    expect(JSON.parse(r.stdout).tokenIds).toEqual(JSON.parse(byDir.stdout).tokenIds);
    const commit = hub.commitOf(ID);
    expect(fs.existsSync(path.join(home, 'hub', 'models--shared--llama2xs', 'snapshots', commit, 'model.safetensors'))).toBe(true);
    const inspected = await runCliAsync(['inspect', ID, '--json', '--no-tensors'], {env: {...env, HF_ENDPOINT: closedUrl}});
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).config.dim).toBeGreaterThan(0);
  });

  it('a dropped connection: one line saying to run it again, which resumes with a range request', async () => {
    hub.fault(ID, 'model.safetensors', {kind: 'cut', bytes: 300_000});
    const cut = await runCliAsync(['pull', ID], {env});
    expect(cut.code).toBe(1);
    // the bytes that reached the file: those the server sent, less any still in flight when it closed
    const kept = /^hire: shared\/llama2xs: download of model\.safetensors stopped after (\d+) of 1121800 bytes \(.+\); run it again to resume\n$/.exec(cut.stderr);
    expect(kept, cut.stderr).not.toBeNull();
    const have = Number(kept![1]);
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(300_000);
    const partial = path.join(home, 'hub', 'models--shared--llama2xs', 'blobs', `${hub.etagOf(ID, 'model.safetensors')}.incomplete`);
    expect(fs.statSync(partial).size).toBe(have);
    hub.requests.length = 0;
    const resumed = await runCliAsync(['pull', ID], {env});
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/: 1 files downloaded \(1\.12 MB\), 5 already cached\n/);
    expect(hub.transfers('model.safetensors').map((t) => t.range)).toEqual([`bytes=${have}-1121799`]);
    expect(fs.existsSync(partial)).toBe(false);
  });

  it('Ctrl-C during a download: exit 130, the bytes so far kept, and the next pull asks for the rest only', async () => {
    hub.fault(ID, 'model.safetensors', {kind: 'stall', bytes: 200_000});
    const partial = path.join(home, 'hub', 'models--shared--llama2xs', 'blobs', `${hub.etagOf(ID, 'model.safetensors')}.incomplete`);
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), 'pull', ID], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let i = 0; i < 1200 && (fs.statSync(partial, {throwIfNoEntry: false})?.size ?? 0) < 200_000; i++) await sleep(50);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toBe('hire: stopped by SIGINT\n');
    expect(fs.statSync(partial).size).toBe(200_000);
    hub.requests.length = 0;
    const resumed = await runCliAsync(['pull', ID], {env});
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(hub.transfers('model.safetensors').map((t) => t.range)).toEqual(['bytes=200000-1121799']);
  });

  it('a corrupt file, an unreachable hub, HF_HUB_OFFLINE and a bad id: one line each', async () => {
    hub.fault(ID, 'tokenizer.json', {kind: 'corrupt'});
    const corrupt = await runCliAsync(['pull', ID], {env});
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/^hire: shared\/llama2xs: tokenizer\.json arrived corrupt \(git sha1 [0-9a-f]{40}, expected [0-9a-f]{40}\); the partial file was removed: download it again\n$/);
    const unreachable = await runCliAsync(['pull', ID], {env: {...env, HF_ENDPOINT: closedUrl}});
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(new RegExp(`^hire: shared/llama2xs: cannot reach ${closedUrl} \\(fetch failed: ECONNREFUSED\\); check the network connection.*\\n$`));
    const offline = await runCliAsync(['pull', ID], {env: {...env, HF_HUB_OFFLINE: '1'}});
    expect(offline.stderr).toMatch(/^hire: shared\/llama2xs: HF_HUB_OFFLINE is set, so nothing is downloaded;.*\n$/);
    const bad = await runCliAsync(['pull', './models/x'], {env});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('hire: model "./models/x" is not a Hugging Face id; give it as org/name or org/name@revision, with :TAG to pick a GGUF file (org/name:Q4_0)\n');
  });

  it('draws a bar per file on a terminal that has a width, and none on one of width 0', async () => {
    const inTerminal = (cols: number) =>
      runAsync('script', ['-qec', `stty cols ${cols} rows 24; exec "${process.execPath}" bin/run.js pull ${ID}`, '/dev/null'], {env, cwd: PROJECT_ROOT});
    const shown = await inTerminal(100);
    expect(shown.code, shown.stdout).toBe(0);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      expect(shown.stdout).toMatch(new RegExp(`${file.replace('.', '\\.')} +\\[#{30}\\] 100% +[\\d.]+ [KM]?B +/ +[\\d.]+ [KM]?B`));
    }
    fs.rmSync(path.join(home, 'hub'), {recursive: true});
    const hidden = await inTerminal(0);
    expect(hidden.code, hidden.stdout).toBe(0);
    expect(hidden.stdout).not.toMatch(/%/);
  });
});
