/**
 * The whole path a router takes: the worker syncs from the fake upstream, the real nginx serves the
 * result with the project's template, and a client does what opkg does — through HTTP only.
 */
import { createPublicKey, verify } from 'node:crypto';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { loadTrustedKeys } from '../worker/feeds/trusted-keys.js';
import { parseApkIndex } from '../worker/formats/apk/apk-index.js';
import { apkIdentityOfFile } from '../worker/formats/apk/identity.js';
import { verifyApkIndex } from '../worker/formats/apk/signature.js';
import { sha256 } from './helpers/files.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

/** What opkg's usign check does, written from the format: "Ed" + fingerprint + key / signature. */
function usignVerify(message: Buffer, signatureFile: string, publicKeyFile: string): boolean {
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

/** An opkg-like client: distfeeds.conf → each feed's Packages.gz + Packages.sig → the packages' files. */
async function opkgInstallAll(
  baseUrl: string,
  host: string,
  publicKeyFile: string,
  wanted: Set<string>,
): Promise<{ fetched: number; problems: string[] }> {
  const problems: string[] = [];
  const distfeeds = await request(`${baseUrl}/distfeeds.conf`, { headers: { Host: host } });
  expect(distfeeds.status).to.equal(200);
  const feeds = distfeeds.body
    .toString()
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  let fetched = 0;
  for (const [kind, name, url] of feeds) {
    expect(kind).to.equal('src/gz');
    expect(url?.startsWith(`http://${host}/releases/`), `${name} uses the host the request used`).to.be.true;
    const path = new URL(url as string).pathname;
    // Two requests cannot be atomic: a switch between them pairs the old Packages.gz with the new
    // signature. opkg then fails that feed's update and the next `opkg update` succeeds; so here.
    let packages = Buffer.alloc(0);
    let verified = false;
    for (let attempt = 0; attempt < 2 && !verified; attempt++) {
      const gz = await request(`${baseUrl}${path}/Packages.gz`);
      const sig = await request(`${baseUrl}${path}/Packages.sig`);
      expect(gz.headers['content-encoding']).to.equal(undefined);
      packages = gunzipSync(gz.body);
      verified = usignVerify(packages, sig.body.toString(), publicKeyFile);
    }
    if (!verified) problems.push(`${name}: bad signature`);
    for (const stanza of packages.toString().split('\n\n')) {
      const field = (f: string) => new RegExp(`^${f}: (.*)$`, 'm').exec(stanza)?.[1];
      const filename = field('Filename');
      if (!filename || !wanted.has(`${path.slice(1)}/${filename}`)) continue;
      const file = await request(`${baseUrl}${path}/${filename}`);
      fetched++;
      if (file.status !== 200) problems.push(`${path}/${filename}: HTTP ${file.status}`);
      else if (file.body.length !== Number(field('Size'))) problems.push(`${path}/${filename}: wrong size`);
      else if (sha256(file.body) !== field('SHA256sum'))
        problems.push(`${path}/${filename}: wrong SHA256sum`);
    }
  }
  return { fetched, problems };
}

describe('end to end: worker → nginx → router', function () {
  this.timeout(120_000);
  let h: Harness;
  let nginx: RunningNginx;

  async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<void> {
    h = await createHarness(options);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  }

  afterEach(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it('a router following /distfeeds.conf verifies every index and gets every package of the lab lists', async () => {
    await start();
    expect((await h.sync()).exitCode).to.equal(0);
    const wanted = labClosure(h.tree);
    const { fetched, problems } = await opkgInstallAll(
      nginx.url,
      'mirror.lab:8080',
      h.signer.publicKeyFile,
      wanted,
    );
    expect(problems).to.deep.equal([]);
    expect(fetched).to.equal(wanted.size);
    const status = await request(`${nginx.url}/status.json`);
    expect(JSON.parse(status.body.toString()).lastRun.result).to.equal('success');
  });

  it('a router installing through nginx during a sync to new versions never meets a missing or wrong file', async () => {
    // A slower upstream, so the router makes many rounds before, during and after the switch.
    await start({ upstream: { latencyMs: 15 }, env: { RATE_LIMIT: '100', CONCURRENCY: '2' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const before = labClosure(h.tree);
    h.moveTo(1);
    // Whichever index the router gets, old or new, every lab file it names must be there and right.
    const wanted = new Set([...before, ...labClosure(h.tree)]);
    let done = false;
    let rounds = 0;
    const problems: string[] = [];
    const router = (async () => {
      while (!done) {
        const result = await opkgInstallAll(nginx.url, 'mirror.lab', h.signer.publicKeyFile, wanted);
        problems.push(...result.problems);
        rounds++;
      }
    })();
    const { exitCode } = await h.sync();
    done = true;
    await router;
    expect(exitCode).to.equal(0);
    expect(problems).to.deep.equal([]);
    expect(rounds).to.be.at.least(2);
  });

  it('an apk router (25.12) following /distfeeds.list gets every package, also when it asks for ~ as %7e', async () => {
    await start({ tree: { version: '25.12.0' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const keys = await loadTrustedKeys(h.keysDir);
    const wanted = labClosure(h.tree);
    const list = await request(`${nginx.url}/distfeeds.list`, { headers: { Host: 'mirror.lab:8080' } });
    expect(list.status).to.equal(200);
    const urls = list.body.toString().trim().split('\n');
    expect(urls).to.have.length(h.tree.feeds.length);
    let fetched = 0;
    const problems: string[] = [];
    for (const url of urls) {
      expect(url.startsWith('http://mirror.lab:8080/releases/') && url.endsWith('/packages.adb'), url).to.be
        .true;
      const indexPath = new URL(url).pathname;
      const adb = await request(`${nginx.url}${indexPath}`);
      const index = parseApkIndex(adb.body);
      verifyApkIndex(index, keys);
      const dir = path.posix.dirname(indexPath);
      for (const pkg of index.packages) {
        if (!wanted.has(`${dir.slice(1)}/${pkg.filename}`)) continue;
        // apk's own HTTP code escapes ~ as %7e; a wget backend may send it raw: both must work.
        for (const name of [pkg.filename.replaceAll('~', '%7e'), pkg.filename]) {
          const file = await request(`${nginx.url}${dir}/${name}`);
          fetched++;
          if (file.status !== 200) problems.push(`${dir}/${name}: HTTP ${file.status}`);
          else if (file.body.length !== pkg.size) problems.push(`${dir}/${name}: wrong size`);
          else if (apkIdentityOfFile(file.body) !== pkg.sha256)
            problems.push(`${dir}/${name}: wrong identity`);
        }
      }
    }
    expect(problems).to.deep.equal([]);
    expect(fetched).to.equal(2 * wanted.size);
    expect((await request(`${nginx.url}/distfeeds.conf`)).status).to.equal(404);
  });
});
