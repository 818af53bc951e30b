/**
 * Bytes a folder takes on disk, counted the way `du --apparent-size` counts: the sizes of the
 * regular files under it. Symlinks are counted as links, never followed, so a Hugging Face
 * snapshot (links into blobs/) is not counted twice and a link out of the folder adds nothing.
 */
import fs from 'node:fs';
import path from 'node:path';

export function diskUsage(target: string): number {
  const st = fs.lstatSync(target, {throwIfNoEntry: false});
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let bytes = 0;
  for (const name of fs.readdirSync(target)) bytes += diskUsage(path.join(target, name));
  return bytes;
}
