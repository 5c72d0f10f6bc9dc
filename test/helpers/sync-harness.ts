/**
 * One sync test's world: a generated OpenWrt release served by the fake upstream, a key directory
 * that trusts its signer, an empty mirror directory, and the configuration that ties them together.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../../worker/config.js';
import { runSync, type SyncOptions, type SyncResult } from '../../worker/sync/run.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream.js';
import { buildRelease, labClosure, type ReleaseTree, type TreeOptions } from './tree/index.js';
import { createUsignSigner, type UsignSigner } from './usign-signer.js';

export interface Harness {
  tree: ReleaseTree;
  signer: UsignSigner;
  upstream: FakeUpstream;
  root: string;
  mirrorDir: string;
  keysDir: string;
  env: Record<string, string>;
  config(env?: Record<string, string>): Config;
  sync(env?: Record<string, string>, options?: SyncOptions): Promise<SyncResult>;
  /** Absolute path of a release-relative file as nodes are served it. */
  served(rel: string): string;
  readServed(rel: string): Promise<Buffer | undefined>;
  /** The upstream moves to another revision of the release (new versions of ~15% of packages). */
  moveTo(revision: number): ReleaseTree;
  close(): Promise<void>;
}

export interface HarnessOptions {
  tree?: Omit<TreeOptions, 'signer'>;
  upstream?: FakeUpstreamOptions;
  env?: Record<string, string>;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const signer = createUsignSigner('test release key');
  const treeOptions = { ...options.tree, signer };
  let tree = buildRelease(treeOptions);
  const upstream = await startFakeUpstream({ ...options.upstream, files: new Map(tree.files) });
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-test-'));
  const mirrorDir = path.join(root, 'mirror');
  const keysDir = path.join(root, 'keys');
  await fs.mkdir(keysDir);
  await fs.writeFile(path.join(keysDir, signer.fingerprint), signer.publicKeyFile);
  // apk trees (25.12 on): their packages.adb key too; apk keys are `*.pem`, matched by key id.
  if (tree.apkSigner) {
    await fs.writeFile(path.join(keysDir, 'test-release-apk.pem'), tree.apkSigner.publicKeyPem);
  }
  const env: Record<string, string> = {
    UPSTREAM_URL: upstream.url,
    MIRROR_DIR: mirrorDir,
    OPENWRT_KEYS_DIR: keysDir,
    // The release the tree was built as (24.10.4 unless `tree.version` says otherwise).
    OPENWRT_VERSION: tree.version,
    RATE_LIMIT: '200',
    CONCURRENCY: '4',
    MAX_RETRIES: '3',
    RETRY_DELAY: '0.02',
    DOWNLOAD_TIMEOUT: '2',
    ...options.env,
  };
  const harness: Harness = {
    get tree() {
      return tree;
    },
    signer,
    upstream,
    root,
    mirrorDir,
    keysDir,
    env,
    config: (extra = {}) => loadConfig({ ...env, ...extra }, root),
    sync: (extra = {}, syncOptions = {}) => runSync(loadConfig({ ...env, ...extra }, root), syncOptions),
    served: (rel) => path.join(mirrorDir, tree.releaseDir, rel),
    readServed: (rel) => fs.readFile(harness.served(rel)).catch(() => undefined),
    moveTo(revision) {
      tree = buildRelease({ ...treeOptions, revision });
      upstream.setFiles(new Map(tree.files));
      return tree;
    },
    async close() {
      await upstream.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  return harness;
}

/** `releases/24.10.4/x/y` → `x/y`. */
export function releaseRelative(tree: ReleaseTree, upstreamPath: string): string {
  return upstreamPath.slice(tree.releaseDir.length + 1);
}

/** How many different contents `paths` hold: the mirror fetches identical bytes (kmods in core and kmods) once. */
export function distinctContents(tree: ReleaseTree, paths: Iterable<string>): number {
  return new Set([...paths].map((p) => tree.files.get(p)?.toString('base64'))).size;
}

/** The paths among `paths` that hold the same bytes as `file`, itself included. */
export function sameBytes(tree: ReleaseTree, paths: Iterable<string>, file: string): string[] {
  const bytes = tree.files.get(file);
  return [...paths].filter((p) => bytes !== undefined && tree.files.get(p)?.equals(bytes));
}

/**
 * A fault rule's `match` for `file` and every path of the lab closure with its bytes. The mirror
 * fetches the same bytes once (a kernel module sits in core and kmods), from whichever feed's index
 * verified first: a fault on one of the paths alone may never fire.
 */
export function bytesOf(tree: ReleaseTree, file: string): (p: string) => boolean {
  const twins = new Set(sameBytes(tree, labClosure(tree), file));
  return (p) => twins.has(p);
}
