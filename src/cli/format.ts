import Table from 'cli-table3';

/** Number formatting shared by the commands' tables. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** A compact table; colours only on a terminal so piped output stays plain text. */
export function makeTable(head?: string[]): Table.Table {
  const color = Boolean(process.stdout.isTTY);
  return new Table({
    ...(head ? {head} : {}),
    style: {compact: true, head: color ? ['cyan'] : [], border: color ? ['grey'] : []},
  });
}
