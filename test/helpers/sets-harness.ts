/**
 * A sync test's world with several sets: an upstream of several releases × targets (buildUpstream)
 * served by the fake upstream, keys that trust its signers, an empty mirror directory, and the
 * configuration of the sets a test asks for.
 */
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../../worker/config.js';
import { runSync, type SyncOptions, type SyncResult } from '../../worker/sync/run.js';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.js';
import {
  buildUpstream,
  findSet,
  type SetTree,
  type UpstreamOptions,
  type UpstreamTree,
} from './tree/index.js';
import { createUsignSigner, type UsignSigner } from './usign-signer.js';

export interface SetsHarness {
  upstream: FakeUpstream;
  tree: UpstreamTree;
  root: string;
  mirrorDir: string;
  /** The trusted keys: the usign key of every Packages.sig and sha256sums.sig, the apk key. */
  keysDir: string;
  signer: UsignSigner;
  env: Record<string, string>;
  /** The configuration of `sets` (release × target pairs; the lists are the environment's). */
  config(sets: { release: string; target: string }[], env?: Record<string, string>): Config;
  sync(
    sets: { release: string; target: string }[],
    env?: Record<string, string>,
    options?: SyncOptions,
  ): Promise<SyncResult>;
  set(release: string, target: string): SetTree;
  /** Absolute path of an upstream path as nodes are served it. */
  served(upstreamPath: string): string;
  moveTo(revision: number): UpstreamTree;
  close(): Promise<void>;
}

export async function createSetsHarness(
  options: Omit<UpstreamOptions, 'signer'> & { env?: Record<string, string> },
): Promise<SetsHarness> {
  const signer = createUsignSigner('test release key');
  const { env: extraEnv, ...treeOptions } = options;
  let tree = buildUpstream({ ...treeOptions, signer });
  const upstream = await startFakeUpstream({ files: new Map(tree.files) });
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-sets-'));
  const mirrorDir = path.join(root, 'mirror');
  const keysDir = path.join(root, 'keys');
  await fs.mkdir(keysDir);
  await fs.writeFile(path.join(keysDir, signer.fingerprint), signer.publicKeyFile);
  if (tree.apkSigner)
    await fs.writeFile(path.join(keysDir, 'test-release-apk.pem'), tree.apkSigner.publicKeyPem);
  const env: Record<string, string> = {
    UPSTREAM_URL: upstream.url,
    MIRROR_DIR: mirrorDir,
    OPENWRT_KEYS_DIR: keysDir,
    RATE_LIMIT: '500',
    CONCURRENCY: '6',
    MAX_RETRIES: '2',
    RETRY_DELAY: '0.02',
    DOWNLOAD_TIMEOUT: '2',
    OPENWRT_DEVICES: '',
    ...extraEnv,
  };
  // The sets go through a MIRROR_CONFIG file, as a user with sets that are no cross product writes them.
  const configFile = path.join(root, 'mirror.yaml');
  const config = (
    sets: { release: string; target: string }[],
    extra: Record<string, string> = {},
  ): Config => {
    const yaml = `sets:\n${sets.map((set) => `  - release: "${set.release}"\n    target: ${set.target}\n`).join('')}`;
    writeFileSync(configFile, yaml);
    return loadConfig({ ...env, MIRROR_CONFIG: configFile, ...extra }, root);
  };
  return {
    upstream,
    get tree() {
      return tree;
    },
    root,
    mirrorDir,
    keysDir,
    signer,
    env,
    config,
    sync: (sets, extra = {}, syncOptions = {}) => runSync(config(sets, extra), syncOptions),
    set: (release, target) => findSet(tree, release, target),
    served: (upstreamPath) => path.join(mirrorDir, upstreamPath),
    moveTo(revision) {
      tree = buildUpstream({ ...treeOptions, signer, revision });
      upstream.setFiles(new Map(tree.files));
      return tree;
    },
    async close() {
      await upstream.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
