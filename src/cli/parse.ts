import {UsageError} from '../core/errors.js';

/**
 * `--tokens 1,2,3` -> [1, 2, 3]. Whitespace around each id is fine; an empty list, an empty item
 * ("1,,2") or anything but a non-negative decimal integer is a UsageError.
 */
export function parseTokenIds(spec: string): number[] {
  const example = 'expected comma-separated token ids such as --tokens 1,403,407';
  if (spec.trim() === '') throw new UsageError(`--tokens: empty list; ${example}`);
  return spec.split(',').map((raw, i) => {
    const item = raw.trim();
    if (!/^\d+$/.test(item)) {
      const what = item === '' ? 'an empty item' : `"${item}"`;
      throw new UsageError(`--tokens: ${what} at position ${i + 1} is not a non-negative integer; ${example}`);
    }
    const id = Number(item);
    if (!Number.isSafeInteger(id)) throw new UsageError(`--tokens: ${item} is too large to be a token id`);
    return id;
  });
}
