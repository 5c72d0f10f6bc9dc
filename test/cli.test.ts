import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { LAB_REQUIRED, NODE_FEEDS } from './helpers/tree/index.js';

describe('command line', function () {
  this.timeout(60_000);
  let h: Harness | undefined;

  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a bad configuration value: exit 2 and one line naming the variable', async () => {
    const cases: [string, string][] = [
      ['MIRROR_MODE', 'bogus'],
      ['RATE_LIMIT', '0'],
      ['SYNC_SCHEDULE', 'nope'],
      ['UPSTREAM_URL', 'notaurl'],
    ];
    const runs = await Promise.all(
      cases.map(([name, value]) => runCli(['sync'], { MIRROR_DIR: '/nonexistent/mirror', [name]: value })),
    );
    runs.forEach(({ code, stdout, stderr }, i) => {
      const [name, value] = cases[i] as [string, string];
      const output = `${stdout}${stderr}`;
      expect(code, `${name}=${value}: ${output}`).to.equal(2);
      expect(output.trimEnd().split('\n'), output).to.have.length(1);
      expect(output).to.contain(name).and.contain(value);
    });
  });

  it('an unknown command: exit 2 and the usage', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate'], {});
    expect(code).to.equal(2);
    expect(stderr).to.contain('frobnicate').and.contain('usage: openwrt-mirror');
    expect(stdout).to.equal('');
  });

  it('sync: exit 0 against a good upstream; then distfeeds prints the seven feeds in distfeeds.conf order', async () => {
    h = await createHarness();
    const sync = await runCli(['sync'], h.env);
    expect(sync.code, sync.stdout + sync.stderr).to.equal(0);
    expect(sync.stdout).to.match(/sync success/);

    const distfeeds = await runCli(['distfeeds', '--url', 'http://10.1.2.3:8080'], h.env);
    expect(distfeeds.code, distfeeds.stderr).to.equal(0);
    const lines = distfeeds.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.split(' ')[1])).to.deep.equal([...NODE_FEEDS]);
    expect(lines).to.deep.equal(
      h.tree.feeds.map((feed) => `src/gz ${feed.distName} http://10.1.2.3:8080/${feed.dir}`),
    );
  });

  it('sync: exit 1 naming the required package that no feed has', async () => {
    h = await createHarness();
    const { code, stdout, stderr } = await runCli(['sync'], {
      ...h.env,
      REQUIRED_PACKAGES: [...LAB_REQUIRED, 'no-such-package'].join(','),
    });
    expect(code).to.equal(1);
    expect(stdout + stderr).to.contain('no-such-package');
  });

  it('logs JSON lines, or readable ones with LOG_FORMAT=pretty', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-logformat-'));
    try {
      const env = {
        MIRROR_DIR: dir,
        UPSTREAM_URL: 'http://127.0.0.1:9',
        MAX_RETRIES: '0',
        OPENWRT_DEVICES: '',
      };
      const json = await runCli(['sync'], env);
      expect(json.code).to.equal(1);
      const first = json.stdout.split('\n')[0] ?? '';
      expect(JSON.parse(first)).to.have.property('level');
      const pretty = await runCli(['sync'], { ...env, LOG_FORMAT: 'pretty' });
      expect(pretty.code).to.equal(1);
      expect(pretty.stdout.split('\n')[0]).to.match(
        /^\d\d:\d\d:\d\d \S*info\S* sync started: 24\.10\.4 ramips\/mt7621/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
