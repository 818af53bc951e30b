import {UsageError} from '../core/errors.js';

/** "1,8,32" -> [1, 8, 32]; every item a positive integer. */
export function parseIntList(flag: string, value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) {
    throw new UsageError(`${flag}: expected comma-separated positive integers such as 1,8,32, got "${value}"`);
  }
  return items.map(Number);
}

/** A number flag given as a string (oclif has no float flags). */
export function parseNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: "${value}" is not a number`);
  return n;
}
