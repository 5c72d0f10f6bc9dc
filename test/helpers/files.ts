/** Small file helpers the sync tests share: what a reader of the served tree does. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Whether `file` exists, following symlinks as nginx does. */
export async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** Every file under `dir/rel`, as paths relative to `dir`, following the release symlink like nginx. */
export async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(dir, rel)).catch(() => [] as string[])) {
    const child = rel ? `${rel}/${entry}` : entry;
    const stat = await fs.stat(path.join(dir, child));
    if (stat.isDirectory()) out.push(...(await listFiles(dir, child)));
    else out.push(child);
  }
  return out;
}
