/**
 * What every command shares: the --debug flag; --json through oclif (a command's run() returns the
 * JSON value, oclif prints it on stdout and silences this.log); errors as one clear line on stderr
 * with exit code 1 (2 for bad usage), never a stack trace unless --debug is given, with --json
 * too (stdout then stays empty); warnings, deprecated flag spellings included, as one line on
 * stderr, with --json too.
 */
import {Command, Errors, Flags} from '@oclif/core';
import {HireError, UsageError} from '../core/errors.js';
import {parseErrorLine, usageLine} from './errors.js';

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    debug: Flags.boolean({description: 'Show stack traces on errors.', default: false, helpGroup: 'GLOBAL'}),
  };

  /** Library option names whose flag is not their kebab-case (e.g. {ks: 'k'}), for error messages. */
  static optionFlags: Readonly<Record<string, string>> = {};

  /** Something to add to an error's line in this command's terms (e.g. the flag that avoids it), or null. */
  protected hint(_err: HireError): string | null {
    return null;
  }

  /** oclif's warnings (a deprecated flag) as hire's warning line, also under --json (stderr is not the JSON). */
  override warn(input: string | Error): string | Error {
    warn(typeof input === 'string' ? input : input.message);
    return input;
  }

  protected override async catch(err: Error): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err; // this.exit() and --help
    let message: string;
    let exitCode: number;
    if (err instanceof HireError) {
      const ctor = this.constructor as typeof BaseCommand;
      message = err instanceof UsageError ? usageLine(err, ctor.flags ?? {}, ctor.optionFlags) : err.message;
      const hint = this.hint(err);
      if (hint) message += ` (${hint})`;
      exitCode = err.exitCode;
    } else if (err instanceof Errors.CLIError) {
      // oclif's own parse errors: unknown flag, missing or invalid argument.
      message = `${parseErrorLine(err)} (see --help)`;
      exitCode = 2;
    } else {
      message = `unexpected error: ${err.message}`;
      exitCode = 1;
    }
    process.stderr.write(`hire: ${message}\n`);
    if (this.argv.includes('--debug') && err.stack) process.stderr.write(`${err.stack}\n`);
    return this.exit(exitCode);
  }
}

/** Writes to stderr (statistics, progress) so stdout stays clean for the generated text / JSON. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A non-fatal problem the user should know about (stderr). */
export function warn(message: string): void {
  process.stderr.write(`hire: warning: ${message}\n`);
}
