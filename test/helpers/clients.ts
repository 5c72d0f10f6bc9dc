/**
 * Routers, as far as HTTP goes: an opkg-like client (feed lines → each feed's Packages.gz and
 * Packages.sig → the packages' files, each checked for size and SHA256sum) and an apk-like one (feed
 * lines → each packages.adb, its signature checked → the packages' files, each checked for its
 * identity). Both talk to nginx only and report what a real client would refuse.
 */
import { createPublicKey, verify } from 'node:crypto';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadTrustedKeys } from '../../worker/feeds/trusted-keys.js';
import { parseApkIndex } from '../../worker/formats/apk/apk-index.js';
import { apkIdentityOfFile } from '../../worker/formats/apk/identity.js';
import { verifyApkIndex } from '../../worker/formats/apk/signature.js';
import { sha256 } from './files.js';
import { request } from './nginx.js';

export interface ClientResult {
  /** The feed lines' URLs, as the mirror filled them in. */
  feeds: string[];
  fetched: number;
  problems: string[];
}

/** What opkg's usign check does, written from the format: "Ed" + fingerprint + key / signature. */
export function usignVerify(message: Buffer, signatureFile: string, publicKeyFile: string): boolean {
  const decode = (file: string) => Buffer.from(file.trim().split('\n')[1] ?? '', 'base64');
  const key = decode(publicKeyFile);
  const sig = decode(signatureFile);
  if (!key.subarray(2, 10).equals(sig.subarray(2, 10))) return false;
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(10).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, publicKey, sig.subarray(10));
}

/** The lines at `linesPath`, asked for with `host`: a problem unless 200 and every URL on that host. */
async function feedLines(baseUrl: string, linesPath: string, host: string, problems: string[]) {
  const reply = await request(`${baseUrl}${linesPath}`, { headers: { Host: host } });
  if (reply.status !== 200) {
    problems.push(`${linesPath}: HTTP ${reply.status}`);
    return [];
  }
  const lines = reply.body.toString().trim().split('\n');
  for (const line of lines) {
    if (!line.includes(`http://${host}/releases/`)) problems.push(`${linesPath}: ${line}: not on ${host}`);
  }
  return lines;
}

/**
 * opkg: `src/gz <name> <url>` lines → each feed's Packages.gz and Packages.sig, verified with the
 * usign key → each package of `wanted` (upstream paths) the index lists, checked for Size and SHA256sum.
 */
export async function opkgInstallAll(
  baseUrl: string,
  host: string,
  publicKeyFile: string,
  wanted: Set<string>,
  linesPath = '/distfeeds.conf',
): Promise<ClientResult> {
  const problems: string[] = [];
  const feeds: string[] = [];
  let fetched = 0;
  for (const line of await feedLines(baseUrl, linesPath, host, problems)) {
    const [kind, name, url] = line.split(' ');
    if (kind !== 'src/gz' || url === undefined) {
      problems.push(`${linesPath}: not an opkg feed line: ${line}`);
      continue;
    }
    feeds.push(url);
    const dir = new URL(url).pathname;
    // Two requests cannot be atomic: a switch between them pairs the old Packages.gz with the new
    // signature. opkg then fails that feed's update and the next `opkg update` succeeds; so here.
    let packages = Buffer.alloc(0);
    let verified = false;
    for (let attempt = 0; attempt < 2 && !verified; attempt++) {
      const gz = await request(`${baseUrl}${dir}/Packages.gz`);
      const sig = await request(`${baseUrl}${dir}/Packages.sig`);
      if (gz.status !== 200 || gz.headers['content-encoding'] !== undefined) continue;
      packages = gunzipSync(gz.body);
      verified = usignVerify(packages, sig.body.toString(), publicKeyFile);
    }
    if (!verified) problems.push(`${name}: bad signature`);
    for (const stanza of packages.toString().split('\n\n')) {
      const field = (f: string) => new RegExp(`^${f}: (.*)$`, 'm').exec(stanza)?.[1];
      const filename = field('Filename');
      if (!filename || !wanted.has(`${dir.slice(1)}/${filename}`)) continue;
      const file = await request(`${baseUrl}${dir}/${filename}`);
      fetched++;
      if (file.status !== 200) problems.push(`${dir}/${filename}: HTTP ${file.status}`);
      else if (file.body.length !== Number(field('Size'))) problems.push(`${dir}/${filename}: wrong size`);
      else if (sha256(file.body) !== field('SHA256sum')) problems.push(`${dir}/${filename}: wrong SHA256sum`);
    }
  }
  return { feeds, fetched, problems };
}

/**
 * apk: one packages.adb URL a line → each index, its signature checked with the keys of `keysDir` →
 * each package of `wanted` it lists, checked for size and identity. `escapes`: also ask for each file
 * with `~` as `%7e`, as apk's own HTTP code does (a wget backend sends it raw).
 */
export async function apkInstallAll(
  baseUrl: string,
  host: string,
  keysDir: string,
  wanted: Set<string>,
  options: { linesPath?: string; escapes?: boolean } = {},
): Promise<ClientResult> {
  const linesPath = options.linesPath ?? '/distfeeds.list';
  const keys = await loadTrustedKeys(keysDir);
  const problems: string[] = [];
  const feeds: string[] = [];
  let fetched = 0;
  for (const url of await feedLines(baseUrl, linesPath, host, problems)) {
    if (!url.endsWith('/packages.adb')) {
      problems.push(`${linesPath}: not an apk repository line: ${url}`);
      continue;
    }
    feeds.push(url);
    const indexPath = new URL(url).pathname;
    const adb = await request(`${baseUrl}${indexPath}`);
    let index: ReturnType<typeof parseApkIndex>;
    try {
      index = parseApkIndex(adb.body);
      verifyApkIndex(index, keys);
    } catch (error) {
      problems.push(`${indexPath}: ${(error as Error).message}`);
      continue;
    }
    const dir = path.posix.dirname(indexPath);
    for (const pkg of index.packages) {
      if (!wanted.has(`${dir.slice(1)}/${pkg.filename}`)) continue;
      const names = options.escapes ? [pkg.filename.replaceAll('~', '%7e'), pkg.filename] : [pkg.filename];
      for (const name of names) {
        const file = await request(`${baseUrl}${dir}/${name}`);
        fetched++;
        if (file.status !== 200) problems.push(`${dir}/${name}: HTTP ${file.status}`);
        else if (file.body.length !== pkg.size) problems.push(`${dir}/${name}: wrong size`);
        else if (apkIdentityOfFile(file.body) !== pkg.sha256) problems.push(`${dir}/${name}: wrong identity`);
      }
    }
  }
  return { feeds, fetched, problems };
}

/**
 * An opkg router installing `wanted` over and over through `baseUrl` until `stop()`, which resolves
 * to every problem it met and how many rounds it made: what a router polling during a switch saw.
 */
export function opkgRouterLoop(
  baseUrl: string,
  publicKeyFile: string,
  wanted: Set<string>,
): { stop(): Promise<{ problems: string[]; rounds: number }> } {
  let done = false;
  let rounds = 0;
  const problems: string[] = [];
  const loop = (async () => {
    while (!done) {
      const result = await opkgInstallAll(baseUrl, 'mirror.lab', publicKeyFile, wanted);
      problems.push(...result.problems);
      rounds++;
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      return { problems, rounds };
    },
  };
}
