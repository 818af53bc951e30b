/**
 * What users of oclif CLIs expect: `hire help <command>`, `hire version`, a "did you mean" for a
 * mistyped command (asked on a terminal; a pointer to `hire help` and exit 127 off one), shell
 * completion, and examples in --help that work from an installed package.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {beforeEach, describe, expect, it} from 'vitest';
import {runCli, SPAWN_TIMEOUT_MS} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

let env: Record<string, string>;
beforeEach(() => {
  // oclif writes the completion cache under <bin>_CACHE_DIR (HIRE_CACHE_DIR): keep it out of home
  env = {HIRE_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'hire-oclif-'))};
});

const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));

describe('oclif conventions', () => {
  it('hire help <command> shows that command\'s help; hire version prints the version', () => {
    const help = runCli(['help', 'pull'], {env});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^USAGE\n {2}\$ hire pull MODEL/m);
    const topic = runCli(['help', 'cache'], {env});
    expect(topic.stdout).toMatch(/cache clear/);
    expect(topic.stdout).toMatch(/cache list/);
    const version = runCli(['version'], {env});
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(new RegExp(`^hire/${pkg.version.replace(/\./g, '\\.')} `));
  });

  it('a mistyped command: "Did you mean generate?" on a terminal, and a pointer to hire help with exit 127 off one', () => {
    const plain = runCli(['genrate', '-p', 'x'], {env});
    expect(plain.code).toBe(127);
    expect(plain.stderr).toMatch(/genrate is not a hire command/);
    expect(plain.stderr).toMatch(/Run hire help for a list of available commands/);
    // on a terminal (script gives it one) the plugin asks; answering n ends it the same way
    const tty = spawnSync('script', ['-qec', `"${process.execPath}" bin/run.js genrate`, '/dev/null'], {
      cwd: PROJECT_ROOT,
      env: {...process.env, ...env, NO_COLOR: '1'},
      input: 'n\r',
      encoding: 'utf8',
      timeout: SPAWN_TIMEOUT_MS,
    });
    expect(tty.stdout).toMatch(/Did you mean generate\?/);
    expect(tty.status).toBe(127);
  });

  it('shell completion: the bash script completes commands and flags', () => {
    const setup = runCli(['autocomplete', 'script', 'bash'], {env});
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain(path.join(env['HIRE_CACHE_DIR']!, 'autocomplete', 'bash_setup'));
    expect(runCli(['autocomplete', '--refresh-cache'], {env}).code).toBe(0);
    const complete = (words: string[]) => {
      const script = `source "${path.join(env['HIRE_CACHE_DIR']!, 'autocomplete', 'functions', 'bash', 'hire.bash')}"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hire_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync('bash', ['-c', script], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean);
    };
    expect(complete(['hire', 'pu'])).toEqual(['pull']);
    expect(complete(['hire', 'generate', '--max'])).toEqual(['--max-tokens']);
  });

  it('declares the plugins it uses, each built for the @oclif/core major in use', () => {
    const plugins: string[] = pkg.oclif.plugins;
    expect(plugins.sort()).toEqual(['@oclif/plugin-autocomplete', '@oclif/plugin-help', '@oclif/plugin-not-found', '@oclif/plugin-version']);
    const coreMajor = pkg.dependencies['@oclif/core'].split('.')[0];
    for (const p of plugins) {
      expect(pkg.dependencies[p], p).toMatch(/^\d+\.\d+\.\d+$/); // pinned exactly, like the others
      const theirs = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules', p, 'package.json'), 'utf8'));
      expect(theirs.dependencies['@oclif/core'], p).toMatch(new RegExp(`^\\^${coreMajor}(\\.|$)`));
      expect(fs.existsSync(path.join(PROJECT_ROOT, 'node_modules', p, 'node_modules', '@oclif', 'core')), `${p} brings its own @oclif/core`).toBe(false);
    }
  });

  it('the examples of every command need nothing outside the installed package', () => {
    const commands = commandIds(path.join(PROJECT_ROOT, 'src', 'commands'));
    expect(commands).toEqual(expect.arrayContaining([['generate'], ['pull'], ['cache', 'list']]));
    for (const command of commands) {
      const help = runCli([...command, '--help'], {env});
      const examples = help.stdout.slice(help.stdout.indexOf('EXAMPLES'));
      expect(examples, command.join(' ')).toMatch(/\$ hire /);
      expect(examples, command.join(' ')).not.toMatch(/\.\.\/|shared\//);
    }
  });
});

/** The command ids under src/commands: generate.ts -> [generate], cache/list.ts -> [cache, list]. */
function commandIds(dir: string, prefix: string[] = []): string[][] {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((e) =>
    e.isDirectory() ? commandIds(path.join(dir, e.name), [...prefix, e.name]) : e.name.endsWith('.ts') ? [[...prefix, e.name.slice(0, -3)]] : [],
  );
}
