/**
 * `openwrt-mirror verify`: re-checks what nodes are served right now, from the served tree itself —
 * every served file against the hash it was verified with (its pool name: this covers files kept for
 * the grace period too), every index's signature, Packages.gz against Packages, every package file
 * against its index entry, every image against the signed sha256sums. Exit 1 on any mismatch.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Config } from '../config.js';
import { apkIdentityCheck } from '../feeds/apk-identity.js';
import { parseApkIndex } from '../feeds/apk-index.js';
import { verifyApkIndex } from '../feeds/apk-signature.js';
import { MAX_INDEX_BYTES, parsePackagesIndex } from '../feeds/packages-index.js';
import { parseSha256Sums } from '../feeds/profiles.js';
import { loadTrustedKeys, type TrustedKeys } from '../feeds/trusted-keys.js';
import { verifyUsign } from '../feeds/usign.js';
import type { Logger } from '../log.js';
import { currentGeneration, generationDir, readGenerationFiles } from '../publish/generation.js';
import { MirrorDir } from '../publish/mirror-dir.js';

export interface VerifyResult {
  checked: number;
  problems: string[];
}

export async function verifyCommand(
  config: Config,
  options: { stdout: NodeJS.WritableStream; logger: Logger },
): Promise<number> {
  const result = await verifyMirror(config);
  for (const problem of result.problems) options.stdout.write(`MISMATCH ${problem}\n`);
  options.stdout.write(
    result.problems.length === 0
      ? `verified ${result.checked} files: all match their signed indexes\n`
      : `${result.problems.length} problems in ${result.checked} files checked\n`,
  );
  return result.problems.length === 0 ? 0 : 1;
}

export async function verifyMirror(config: Config): Promise<VerifyResult> {
  const dir = new MirrorDir(config.mirrorDir);
  const generation = await currentGeneration(dir, config.version);
  if (generation === undefined)
    return { checked: 0, problems: [`nothing published for ${config.version} in ${dir.root}`] };
  const root = generationDir(dir, generation);
  const keys = await loadTrustedKeys(config.keysDir);
  const result: VerifyResult = { checked: 0, problems: [] };
  const hashes = new HashCache();
  await verifyAgainstPool(dir, root, hashes, result);
  for (const feedDir of await findDirsWith(root, 'Packages')) {
    await verifyFeed(root, feedDir, keys, hashes, result);
  }
  for (const feedDir of await findDirsWith(root, 'packages.adb'))
    await verifyApkFeed(root, feedDir, keys, result);
  const targetDir = `targets/${config.target}`;
  if (await exists(path.join(root, targetDir, 'sha256sums'))) {
    await verifyImages(root, targetDir, keys, hashes, result);
  }
  return result;
}

/** Every served file is a hard link to `pool/<sha256>` of the bytes that were verified: re-hash them. */
async function verifyAgainstPool(
  dir: MirrorDir,
  root: string,
  hashes: HashCache,
  result: VerifyResult,
): Promise<void> {
  const poolByInode = new Map<number, string>();
  for (const name of await fs.readdir(dir.pool)) {
    const stat = await fs.lstat(path.join(dir.pool, name)).catch(() => undefined);
    if (stat?.isFile()) poolByInode.set(stat.ino, name);
  }
  for (const [file, { ino }] of await readGenerationFiles(root)) {
    result.checked++;
    const promised = poolByInode.get(ino);
    const actual = await hashes.of(path.join(root, file));
    if (promised === undefined) result.problems.push(`${file}: not a verified file of the pool`);
    else if (actual.sha256 !== promised)
      result.problems.push(`${file}: sha256 ${actual.sha256}, verified as ${promised}`);
  }
}

/** Each inode is hashed once, however many paths and checks refer to it. */
class HashCache {
  private readonly byInode = new Map<number, Promise<{ sha256: string; size: number }>>();

  async of(file: string): Promise<{ sha256: string; size: number }> {
    const { ino } = await fs.stat(file);
    let hash = this.byInode.get(ino);
    if (!hash) {
      hash = hashFile(file);
      this.byInode.set(ino, hash);
    }
    return hash;
  }
}

async function verifyFeed(
  root: string,
  feedDir: string,
  keys: TrustedKeys,
  hashes: HashCache,
  result: VerifyResult,
): Promise<void> {
  const at = (name: string) => path.join(root, feedDir, name);
  const packages = await fs.readFile(at('Packages'));
  try {
    verifyUsign(packages, await fs.readFile(at('Packages.sig'), 'utf8'), keys);
  } catch (error) {
    result.problems.push(`${feedDir}/Packages: ${(error as Error).message}`);
  }
  if (await exists(at('Packages.gz'))) {
    let same = false;
    try {
      same = gunzipSync(await fs.readFile(at('Packages.gz')), { maxOutputLength: MAX_INDEX_BYTES }).equals(
        packages,
      );
    } catch {}
    if (!same) result.problems.push(`${feedDir}/Packages.gz: does not unpack to Packages`);
  }
  const index = parsePackagesIndex(packages.toString('utf8'));
  for (const pkg of index.packages) {
    const file = at(pkg.filename);
    if (!(await exists(file))) continue; // selective mode serves part of each feed
    const actual = await hashes.of(file);
    if (actual.size !== pkg.size) {
      result.problems.push(`${feedDir}/${pkg.filename}: size ${actual.size}, index says ${pkg.size}`);
    } else if (actual.sha256 !== pkg.sha256) {
      result.problems.push(`${feedDir}/${pkg.filename}: sha256 ${actual.sha256}, index says ${pkg.sha256}`);
    }
  }
}

async function verifyApkFeed(
  root: string,
  feedDir: string,
  keys: TrustedKeys,
  result: VerifyResult,
): Promise<void> {
  let index: ReturnType<typeof parseApkIndex>;
  try {
    index = parseApkIndex(await fs.readFile(path.join(root, feedDir, 'packages.adb')), {
      what: `${feedDir}/packages.adb`,
    });
    verifyApkIndex(index, keys, `${feedDir}/packages.adb`);
  } catch (error) {
    result.problems.push(`${feedDir}/packages.adb: ${(error as Error).message}`);
    return;
  }
  for (const pkg of index.packages) {
    const file = path.join(root, feedDir, pkg.filename);
    if (!(await exists(file))) continue; // selective mode serves part of each feed
    const { size } = await fs.stat(file);
    if (size !== pkg.size) {
      result.problems.push(`${feedDir}/${pkg.filename}: size ${size}, index says ${pkg.size}`);
      continue;
    }
    // Streamed through the same check as a download: bounded memory whatever the package's size.
    const check = apkIdentityCheck(pkg.sha256, `${feedDir}/${pkg.filename}`);
    try {
      for await (const chunk of createReadStream(file)) check.update(chunk as Buffer);
      await check.finish();
    } catch (error) {
      result.problems.push(`${feedDir}/${pkg.filename}: ${(error as Error).message}`);
    }
  }
}

async function verifyImages(
  root: string,
  targetDir: string,
  keys: TrustedKeys,
  hashes: HashCache,
  result: VerifyResult,
): Promise<void> {
  const sums = await fs.readFile(path.join(root, targetDir, 'sha256sums'));
  try {
    verifyUsign(sums, await fs.readFile(path.join(root, targetDir, 'sha256sums.sig'), 'utf8'), keys);
  } catch (error) {
    result.problems.push(`${targetDir}/sha256sums: ${(error as Error).message}`);
  }
  for (const [name, sha256] of parseSha256Sums(sums.toString('utf8'))) {
    const file = path.join(root, targetDir, name);
    if (!(await exists(file))) continue;
    const actual = await hashes.of(file);
    if (actual.sha256 !== sha256)
      result.problems.push(`${targetDir}/${name}: sha256 ${actual.sha256}, sha256sums says ${sha256}`);
  }
}

async function findDirsWith(root: string, fileName: string, rel = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) found.push(...(await findDirsWith(root, fileName, child)));
    else if (entry.name === fileName && entry.isFile()) found.push(rel);
  }
  return found;
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
