/**
 * The one line a command prints for an error. The library's messages name options as code spells
 * them (`maxTokens`, `ffn.groupSize`); a command shows its own flag for the option a UsageError
 * carries (`--max-tokens`, `--ffn-group-size`). oclif's parse errors span several lines (the
 * reason on the second); they are joined into one that keeps the reason.
 */
import {HubError, UsageError} from '../core/errors.js';

/** maxTokens -> max-tokens, ffn.groupSize -> ffn-group-size, kPrime -> k-prime. */
export function kebabCase(option: string): string {
  return option.replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The flag that sets `option` in a command with these flags (`aliases` for names that are not
 * the kebab-case of the option), or null when the command has no such flag.
 */
export function flagFor(option: string, flags: object, aliases: Readonly<Record<string, string>> = {}): string | null {
  const name = aliases[option] ?? kebabCase(option);
  return Object.hasOwn(flags, name) ? `--${name}` : null;
}

/** `message` with every whole-word mention of `option` replaced by `flag`. */
export function withFlag(message: string, option: string, flag: string): string {
  const escaped = option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message.replace(new RegExp(`(?<![\\w.])${escaped}(?![\\w])`, 'g'), flag);
}

/** A UsageError's message in a command's terms: its option named by the command's flag. */
export function usageLine(err: UsageError, flags: object, aliases?: Readonly<Record<string, string>>): string {
  const flag = err.option === null ? null : flagFor(err.option, flags, aliases);
  return flag === null ? err.message : withFlag(err.message, err.option!, flag);
}

/**
 * A HubError's message in a command's terms: the library hints at its option (`download: true`);
 * a command with that flag names the flag instead, one without it says to run again.
 */
export function hubLine(err: HubError, flags: object): string {
  if (err.option === null) return err.message;
  const flag = flagFor(err.option, flags);
  return `${err.repo}: ${err.problem}, ${flag === null ? 'then run this again' : `or add ${flag}`}`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * One line from an oclif parse error: "Parsing --max-tokens \n\tExpected an integer ... : 0\nSee
 * more help with --help" -> "--max-tokens: Expected an integer ... : 0"; a missing argument names it.
 */
export function parseErrorLine(err: Error): string {
  const args = (err as {args?: unknown}).args;
  if (err.message.startsWith('Missing') && Array.isArray(args) && args.length > 0) {
    const named = args.map((a: {name?: string; description?: string}) => `<${a.name ?? '?'}>${a.description ? `: ${a.description.replace(/\.$/, '')}` : ''}`);
    return `missing argument${args.length > 1 ? 's' : ''} ${named.join('; ')}`;
  }
  const lines = err.message
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with/.test(l) && !/^The following errors? occurred:?$/.test(l));
  if (lines.length === 0) return 'invalid arguments';
  const first = lines[0]!.replace(/^Parsing (--\S+)$/, '$1:');
  const rest = lines.slice(1);
  if (rest.length === 0) return first;
  return `${first}${first.endsWith(':') ? '' : ':'} ${rest.join('; ')}`;
}
