/**
 * Several sets: OPENWRT_VERSION and OPENWRT_TARGET as lists, OPENWRT_ARCH with several targets, and
 * the MIRROR_CONFIG file — its shape, the environment under it, and errors that name the file, the
 * line and the key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { type Config, LAB_OPTIONAL, LAB_REQUIRED, loadConfig, type SetConfig } from '../worker/config.js';
import { ConfigError } from '../worker/errors.js';
import { runCli } from './helpers/spawn-cli.js';

const pairs = (config: Config) => config.sets.map((set) => `${set.release} ${set.target}`);

describe('configuration of several sets', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-config-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Writes `text` as a MIRROR_CONFIG file and loads it under `env`. */
  const fromFile = (text: string, env: Record<string, string> = {}, name = 'mirror.yaml'): Config => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return loadConfig({ MIRROR_CONFIG: file, ...env }, dir);
  };
  const fileError = (text: string, env: Record<string, string> = {}): ConfigError => {
    try {
      fromFile(text, env);
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      return error as ConfigError;
    }
    expect.fail(`expected a ConfigError for:\n${text}`);
  };

  describe('from the environment', () => {
    it('mirrors every listed release × every listed target, each set with the lists', () => {
      const config = loadConfig(
        { OPENWRT_VERSION: '24.10.4, 25.12.0', OPENWRT_TARGET: 'ramips/mt7621 x86/64', MIRROR_MODE: 'full' },
        dir,
      );
      expect(pairs(config)).to.deep.equal([
        '24.10.4 ramips/mt7621',
        '24.10.4 x86/64',
        '25.12.0 ramips/mt7621',
        '25.12.0 x86/64',
      ]);
      for (const set of config.sets) {
        expect(set.mode).to.equal('full');
        expect(set.arch).to.equal(undefined);
        expect(set.required).to.deep.equal(LAB_REQUIRED);
        expect(set.optional).to.deep.equal(LAB_OPTIONAL);
        expect(set.sources.required).to.equal('REQUIRED_PACKAGES');
      }
    });

    it('takes an empty OPENWRT_VERSION or OPENWRT_TARGET for the default, and a repeated item once', () => {
      const config = loadConfig({ OPENWRT_VERSION: '', OPENWRT_TARGET: 'x86/64,x86/64' }, dir);
      expect(pairs(config)).to.deep.equal(['24.10.4 x86/64']);
    });

    it('applies OPENWRT_ARCH to the one target, also across releases', () => {
      const config = loadConfig(
        { OPENWRT_VERSION: '24.10.4 25.12.0', OPENWRT_TARGET: 'ramips/mt7621', OPENWRT_ARCH: 'mipsel_24kc' },
        dir,
      );
      expect(config.sets.map((set) => set.arch)).to.deep.equal(['mipsel_24kc', 'mipsel_24kc']);
    });

    it('refuses OPENWRT_ARCH with several targets, naming it and the targets', () => {
      let error: unknown;
      try {
        loadConfig({ OPENWRT_TARGET: 'ramips/mt7621,x86/64', OPENWRT_ARCH: 'mipsel_24kc' }, dir);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).variable).to.equal('OPENWRT_ARCH');
      expect((error as Error).message)
        .to.contain('OPENWRT_ARCH="mipsel_24kc"')
        .and.contain('ramips/mt7621, x86/64')
        .and.contain('empty');
    });

    it('exits 2 from the command line with one line naming OPENWRT_ARCH', async () => {
      const run = await runCli(['status'], {
        MIRROR_DIR: path.join(dir, 'mirror'),
        OPENWRT_TARGET: 'ramips/mt7621 x86/64',
        OPENWRT_ARCH: 'x86_64',
      });
      expect(run.code).to.equal(2);
      expect(run.stderr.trim().split('\n')).to.have.length(1);
      expect(run.stderr).to.contain('OPENWRT_ARCH="x86_64"');
    });
  });

  describe('from MIRROR_CONFIG', () => {
    it('the README example: two targets and a release migration, the environment under it', () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const block = /<!-- mirror-config-example -->\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(block, 'the README has the example').to.be.a('string');
      const shipped = readFileSync(new URL('../config/mirror.example.yaml', import.meta.url), 'utf8');
      expect(shipped, 'config/mirror.example.yaml is the README example').to.equal(block);
      const config = fromFile(block as string, { REQUIRED_PACKAGES: 'python3', OPTIONAL_PACKAGES: 'nano' });
      expect(pairs(config)).to.deep.equal([
        '24.10.4 ramips/mt7621',
        '25.12.0 ramips/mt7621',
        '25.12.0 x86/64',
      ]);
      const [router, , vm] = config.sets as [SetConfig, SetConfig, SetConfig];
      expect(router).to.include({ mode: 'selective' });
      expect(router.required).to.deep.equal(['python3']);
      expect(router.devices).to.deep.equal(['dlink_dir-1960-a1']);
      expect(vm.required).to.deep.equal(['python3', 'qemu-ga', 'iperf3']);
      expect(vm.optional).to.deep.equal(['nano']);
      expect(vm.devices).to.deep.equal(['generic']);
      expect(vm.sources.required).to.match(/mirror\.yaml line \d+ \(sets\[1\]\.extra_required\)/);
      expect(config.mirrorConfig).to.equal(path.join(dir, 'mirror.yaml'));
    });

    it('reads releases as written (24.10 is not the number 24.1), lists as sequences or strings', () => {
      const config = fromFile(
        [
          'sets:',
          '  - release: 24.10',
          '    target: [ramips/mt7621, x86/64]',
          '    required: python3, ip-full tcpdump',
          '    optional: []',
          '    devices:',
          '    feeds: [base, packages]',
        ].join('\n'),
      );
      expect(pairs(config)).to.deep.equal(['24.10 ramips/mt7621', '24.10 x86/64']);
      const [set] = config.sets as [SetConfig];
      expect(set.required).to.deep.equal(['python3', 'ip-full', 'tcpdump']);
      expect(set.optional).to.deep.equal([]);
      expect(set.devices).to.deep.equal([]);
      expect(set.feeds).to.deep.equal(['base', 'packages']);
    });

    it('takes release and target from the environment where an entry has none', () => {
      const config = fromFile('sets:\n  - mode: full\n', {
        OPENWRT_VERSION: '24.10.4 25.12.0',
        OPENWRT_TARGET: 'x86/64',
      });
      expect(pairs(config)).to.deep.equal(['24.10.4 x86/64', '25.12.0 x86/64']);
      expect(config.sets.every((set) => set.mode === 'full')).to.be.true;
    });

    const bad: { text: string; line: number | undefined; key: string; says: RegExp }[] = [
      {
        text: 'sets:\n  - release: 24.10.4\n    targte: x86/64\n',
        line: 3,
        key: 'sets[0].targte',
        says: /one of the keys release, target, mode/,
      },
      {
        text: 'sets:\n  - target: x86/64\n  - target: ramips/mt7621\n    mode: ful\n',
        line: 4,
        key: 'sets[1].mode',
        says: /"ful" is not valid: expected one of selective, full/,
      },
      {
        text: 'sets:\n  - target: x86/64\n    required:\n      - python3\n      - ../evil\n',
        line: 4,
        key: 'sets[0].required',
        says: /bad item "\.\.\/evil"/,
      },
      { text: 'sets:\n  - target: x86\n', line: 2, key: 'sets[0].target', says: /target\/subtarget/ },
      { text: 'sets:\n  - feeds: [base, core]\n', line: 2, key: 'sets[0].feeds', says: /core and kmods/ },
      { text: 'sets:\n  - release: []\n', line: 2, key: 'sets[0].release', says: /at least one/ },
      {
        text: 'sets:\n  - target: x86/64\n    devices: [all, generic]\n',
        line: 3,
        key: 'sets[0].devices',
        says: /either all \(every device of the target\) alone, or device profile ids/,
      },
      {
        text: 'sets:\n  - target: x86/64\n  - release: 24.10.4\n    target: [ramips/mt7621, x86/64]\n',
        line: 3,
        key: 'sets[1]',
        says: /each release × target once; sets\[0\] \(line 2\) already has 24\.10\.4 x86\/64/,
      },
      { text: 'sets:\n  - target: x86/64\n    mode: [full]\n', line: 3, key: 'sets[0].mode', says: /one of/ },
      { text: 'sets:\n  - required: {a: 1}\n', line: 2, key: 'sets[0].required', says: /list of names/ },
      { text: 'sets:\n  - target: x86/64\n  - 24.10.4\n', line: 3, key: 'sets[1]', says: /a mapping/ },
      { text: 'sets: []\n', line: 1, key: 'sets', says: /at least one set/ },
      { text: 'releases:\n  - 24.10.4\n', line: 1, key: 'releases', says: /only the key sets/ },
      { text: '- 24.10.4\n', line: 1, key: '(top level)', says: /a mapping/ },
      { text: 'sets:\n  - target: x86/64\n   mode: full\n', line: 3, key: '(YAML)', says: /valid YAML/ },
      {
        text: 'sets:\n  - target: x86/64\n    target: ramips/mt7621\n',
        line: 3,
        key: '(YAML)',
        says: /unique/,
      },
    ];
    for (const { text, line, key, says } of bad) {
      it(`names the file, line ${line} and ${key} for ${JSON.stringify(text.split('\n').at(-2))}`, () => {
        const error = fileError(text);
        expect(error.variable).to.equal('MIRROR_CONFIG');
        expect(error.message).to.contain(
          `MIRROR_CONFIG ${path.join(dir, 'mirror.yaml')} line ${line}: ${key}:`,
        );
        expect(error.message).to.match(says);
        expect(error.message.split('\n')).to.have.length(1);
      });
    }

    it('names a file that is not there, and one that is a directory', () => {
      expect(() => loadConfig({ MIRROR_CONFIG: 'no-such.yaml' }, dir)).to.throw(
        ConfigError,
        `MIRROR_CONFIG="${path.join(dir, 'no-such.yaml')}" is not valid: expected a readable YAML file (there is no such file)`,
      );
      expect(() => loadConfig({ MIRROR_CONFIG: dir }, dir)).to.throw(ConfigError, /not a regular file/);
    });

    it('refuses OPENWRT_ARCH when the file names several targets', () => {
      const error = fileError('sets:\n  - target: [ramips/mt7621, x86/64]\n', { OPENWRT_ARCH: 'x86_64' });
      expect(error.variable).to.equal('OPENWRT_ARCH');
    });

    it('exits 2 from the command line with the one line', async () => {
      const file = path.join(dir, 'cli.yaml');
      await fs.writeFile(file, 'sets:\n  - target: x86/64\n    mdoe: full\n');
      const run = await runCli(['sync'], { MIRROR_DIR: path.join(dir, 'mirror'), MIRROR_CONFIG: file });
      expect(run.code).to.equal(2);
      expect(run.stderr.trim()).to.equal(
        `openwrt-mirror: configuration error: MIRROR_CONFIG ${file} line 3: sets[0].mdoe: expected one of the keys release, target, mode, feeds, required, optional, extra_required, extra_optional, devices`,
      );
    });
  });
});
