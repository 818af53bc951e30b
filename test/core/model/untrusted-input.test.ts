/**
 * Model directories from untrusted sources: sizes in config.json are bounded and checked against
 * the checkpoint before anything is sized from them, and config / tokenizer files that are
 * devices, oversized or malformed fail with one line that names the file and quotes none of it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {ConfigError, TokenizerError} from '../../../src/core/errors.js';
import {openModel} from '../../../src/core/model/load.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {HireTokenizer, resolveSpecialTokens} from '../../../src/core/model/tokenizer.js';
import {loadModel} from '../../../src/index.js';
import {writeTinyTokenizer} from '../../helpers/tiny-tokenizer.js';
import {caught} from '../../helpers/caught.js';

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));

/** A 2-layer llama checkpoint with the tiny tokenizer; `patch` is merged into its config.json. */
function tinyModel(patch: Record<string, unknown> = {}): {dir: string; configFile: string} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-untrusted-'));
  tmpDirs.push(dir);
  writeSyntheticCheckpoint(dir, {family: 'llama', dim: 16, nLayers: 2, nHeads: 2, hiddenDim: 32, vocabSize: 266, maxSeqLen: 32, seed: 1});
  writeTinyTokenizer(dir);
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(configFile, JSON.stringify({...config, ...patch}));
  return {dir, configFile};
}

/** One line, starting with the file, matching `pattern`. */
function expectOneLine(error: Error, cls: new (...args: never[]) => Error, file: string, pattern: RegExp): void {
  expect(error).toBeInstanceOf(cls);
  expect(error.message.startsWith(`${file}: `), error.message).toBe(true);
  expect(error.message).toMatch(pattern);
  expect(error.message).not.toContain('\n');
}

describe('sizes declared in config.json', () => {
  it('num_hidden_layers 1e8: loadModel rejects with a ConfigError instead of running out of memory', async () => {
    const {dir, configFile} = tinyModel({num_hidden_layers: 1e8});
    const error = await loadModel(dir, {tokenizer: 'none'}).then(
      () => new Error('expected a rejection'),
      (e: Error) => e,
    );
    expectOneLine(error, ConfigError, configFile, /nLayers \(num_hidden_layers \/ n_layer\) is 100000000, over the limit of 1024/);
  });

  it('every size has a finite limit', () => {
    for (const [key, value, pattern] of [
      ['hidden_size', 1 << 21, /dim \(hidden_size \/ n_embd\) is 2097152, over the limit of 1048576/],
      ['intermediate_size', 2 ** 40, /hiddenDim .* is 1099511627776, over the limit of 1048576/],
      ['vocab_size', 2 ** 25, /vocabSize \(vocab_size\) is 33554432, over the limit of 16777216/],
      ['max_position_embeddings', 2 ** 30, /maxSeqLen .* is 1073741824, over the limit of 16777216/],
      ['num_key_value_heads', 1 << 17, /nKvHeads .* is 131072, over the limit of 65536/],
    ] as const) {
      const {dir, configFile} = tinyModel({[key]: value});
      expectOneLine(caught(() => openModel(dir)), ConfigError, configFile, pattern);
    }
  });

  it('more layers than the checkpoint holds tensors for is refused before the weight list is built', () => {
    const {dir, configFile} = tinyModel({num_hidden_layers: 1000});
    expectOneLine(
      caught(() => openModel(dir)),
      ConfigError,
      configFile,
      /declares 1000 layers \(num_hidden_layers \/ n_layer\), but .*model\.safetensors holds tensors for 2; the config does not match the weights/,
    );
  });
});

describe('config and tokenizer files', () => {
  it.runIf(fs.existsSync('/dev/zero'))('config.json or tokenizer.json symlinked to /dev/zero is refused at once', () => {
    const a = tinyModel();
    fs.rmSync(a.configFile);
    fs.symlinkSync('/dev/zero', a.configFile);
    expectOneLine(caught(() => openModel(a.dir)), ConfigError, a.configFile, /is not a regular file \(it is a character device\)$/);

    const b = tinyModel();
    const tokenizerFile = path.join(b.dir, 'tokenizer.json');
    fs.rmSync(tokenizerFile);
    fs.symlinkSync('/dev/zero', tokenizerFile);
    expectOneLine(caught(() => HireTokenizer.load(b.dir)), TokenizerError, tokenizerFile, /is not a regular file \(it is a character device\)$/);
  });

  it('a config.json or tokenizer.json over its cap names the cap and the size', () => {
    const a = tinyModel();
    fs.truncateSync(a.configFile, 100 * 1024 * 1024); // sparse: no disk used
    expectOneLine(caught(() => openModel(a.dir)), ConfigError, a.configFile, /is 100 MiB \(104857600 bytes\), over the 1 MiB limit for config files$/);

    const b = tinyModel();
    const tokenizerFile = path.join(b.dir, 'tokenizer.json');
    fs.truncateSync(tokenizerFile, 65 * 1024 * 1024);
    expectOneLine(
      caught(() => HireTokenizer.load(b.dir)),
      TokenizerError,
      tokenizerFile,
      /is 65 MiB \(68157440 bytes\), over the 64 MiB limit for tokenizer\.json$/,
    );
  });

  it('a syntax error in a config whose first line looks like a secret gives the position, not the text', () => {
    const secret = 'root:$6$Xy7s3cr3tSa1t$9f8e7d6c5b4a:19000:0:99999:7:::';
    const a = tinyModel();
    fs.writeFileSync(a.configFile, `${secret}\n`);
    const configError = caught(() => openModel(a.dir));
    expectOneLine(configError, ConfigError, a.configFile, /invalid JSON at line 1, column 1 \(expected a value\)$/);
    expect(configError.message).not.toContain('s3cr3t');

    const b = tinyModel();
    const genFile = path.join(b.dir, 'generation_config.json');
    fs.writeFileSync(genFile, `{"bos_token_id": 1,\n "eos_token_id": ${secret}}`);
    const genError = caught(() => resolveSpecialTokens(b.dir));
    expectOneLine(genError, ConfigError, genFile, /invalid JSON at line 2, column 18 \(expected a value\)$/);
    expect(genError.message).not.toContain('s3cr3t');
  });

  it('a value of the wrong type is quoted only in part', () => {
    const {dir, configFile} = tinyModel({hidden_size: `secret-${'x'.repeat(500)}`});
    const error = caught(() => openModel(dir));
    expectOneLine(error, ConfigError, configFile, /"hidden_size" must be a non-negative integer, got "secret-x+\.\.\.$/);
    expect(error.message.length).toBeLessThan(configFile.length + 150);
  });
});
