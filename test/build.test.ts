/**
 * What the image runs: `npm run build`'s bundle (scripts/build.ts), not the sources under tsx. A
 * bundle breaks in ways the sources cannot: a path taken from `import.meta.url`, a module loaded
 * by `require`, a lazy import, the order axios's globals are hidden in.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { bundle } from '../scripts/build.js';
import { REPO_ROOT, runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('the built command line (dist/cli.js)', function () {
  this.timeout(120_000);
  let h: Harness;
  let cli: string;

  before(async () => {
    h = await createHarness();
    // Laid out as in the image: dist/ beside package.json, keys/ and node_modules/.
    const app = path.join(h.root, 'app');
    const built = await bundle(path.join(app, 'dist'));
    expect(built.files).to.be.greaterThan(1);
    for (const name of ['package.json', 'keys', 'node_modules'])
      await fs.symlink(path.join(REPO_ROOT, name), path.join(app, name));
    cli = path.join(app, 'dist/cli.js');
    // Tells, as the process exits, whether Node's bundled fetch (undici) was ever loaded.
    await fs.writeFile(
      path.join(app, 'probe.cjs'),
      "process.on('exit', () => process.stderr.write('undici loaded: ' + process.moduleLoadList.some((m) => m.includes('undici')) + '\\n'));\n",
    );
  });

  after(() => h?.close());

  it('syncs from a MIRROR_CONFIG file, sends its version, and leaves undici unloaded', async () => {
    const version = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    const file = path.join(h.root, 'mirror.yaml');
    await fs.writeFile(file, `sets:\n  - release: ${h.tree.version}\n    mode: selective\n`);
    const probe = path.join(h.root, 'app/probe.cjs');
    const sync = await runCli(
      ['sync'],
      { ...h.env, MIRROR_CONFIG: file, NODE_OPTIONS: `--require ${probe}` },
      cli,
    );
    expect(sync.code, sync.stdout + sync.stderr).to.equal(0);
    expect(sync.stdout).to.match(/sync success/);
    expect(sync.stderr).to.contain('undici loaded: false');
    const agents = new Set(h.upstream.requests.map((request) => request.userAgent));
    expect([...agents]).to.deep.equal([`openwrt-mirror/${version}`]);
    const core = h.tree.feeds[0]?.dir.slice(`${h.tree.releaseDir}/`.length);
    expect(await h.readServed(`${core}/Packages.gz`), `${core}/Packages.gz served`).to.not.equal(undefined);

    const verify = await runCli(['verify'], h.env, cli);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    const status = await runCli(['status', '--json'], h.env, cli);
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout)).to.be.an('object');
  });

  it('finds its bundled keys (../keys from dist/) when OPENWRT_KEYS_DIR is not set', async () => {
    const { OPENWRT_KEYS_DIR: _, ...env } = h.env;
    const sync = await runCli(['sync'], { ...env, MIRROR_DIR: path.join(h.root, 'other') }, cli);
    const output = sync.stdout + sync.stderr;
    // The test tree is signed by a key of its own: the bundled (real) keys are read, and refuse it.
    expect(sync.code, output).to.equal(1);
    expect(output).to.not.contain('OPENWRT_KEYS_DIR=');
    expect(output).to.contain(`OPENWRT_KEYS_DIR names (${path.join(h.root, 'app/keys')})`);
  });
});
