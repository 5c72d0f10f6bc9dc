import path from 'node:path';
import { expect } from 'chai';
import { LAB_OPTIONAL, LAB_REQUIRED, loadConfig, type SetConfig } from '../worker/config.js';
import { ConfigError } from '../worker/errors.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, '/work');
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  expect.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('defaults describe the lab: 24.10.4, ramips/mt7621, the lab lists, polite limits', () => {
    const config = loadConfig({}, '/work');
    expect(config.sets).to.have.length(1);
    const [set] = config.sets as [SetConfig];
    expect(set.release).to.equal('24.10.4');
    expect(set.target).to.equal('ramips/mt7621');
    expect(set.arch).to.equal(undefined);
    expect(set.feeds).to.deep.equal(['base', 'luci', 'packages', 'routing', 'telephony']);
    expect(set.mode).to.equal('selective');
    expect(set.required).to.deep.equal(LAB_REQUIRED);
    expect(set.optional).to.deep.equal(LAB_OPTIONAL);
    expect(set.devices).to.deep.equal(['dlink_dir-1960-a1']);
    expect(config.mirrorConfig).to.equal(undefined);
    expect(config.upstreamUrl).to.equal('https://downloads.openwrt.org');
    expect(config.mirrorDir).to.equal(path.resolve('/work', 'openwrt-repo'));
    expect(config.schedule).to.equal('0 3 * * *');
    expect(config).to.include({
      rateLimit: 2,
      concurrency: 3,
      maxRetries: 3,
      retryDelayMs: 2000,
      timeoutMs: 30000,
      minBytesPerSecond: 4096,
    });
    expect(config.extraKeysDir).to.equal(undefined);
    expect(config).to.include({
      syncOnStart: true,
      jitterSeconds: 0,
      timezone: 'UTC',
      httpPort: 8080,
      logLevel: 'info',
    });
  });

  it('reads lists separated by commas or spaces, and an empty list where the variable is set but empty', () => {
    const config = loadConfig(
      { REQUIRED_PACKAGES: 'python3, ip-full  tcpdump-mini', OPTIONAL_PACKAGES: '', OPENWRT_DEVICES: '' },
      '/work',
    );
    const [set] = config.sets as [SetConfig];
    expect(set.required).to.deep.equal(['python3', 'ip-full', 'tcpdump-mini']);
    expect(set.optional).to.deep.equal([]);
    expect(set.devices).to.deep.equal([]);
  });

  it('OPENWRT_DEVICES=all asks for every device of the target, and stands alone', () => {
    const [set] = loadConfig({ OPENWRT_DEVICES: 'all' }, '/work').sets as [SetConfig];
    expect(set.devices).to.deep.equal(['all']);
    const error = configError({ OPENWRT_DEVICES: 'all,dlink_dir-1960-a1' });
    expect(error.variable).to.equal('OPENWRT_DEVICES');
    expect(error.message).to.equal(
      'OPENWRT_DEVICES="all,dlink_dir-1960-a1" is not valid: expected either all (every device of the target) alone, or device profile ids',
    );
  });

  it('accepts every shape of OpenWrt package architecture in OPENWRT_ARCH, dashes included', () => {
    for (const arch of ['mipsel_24kc', 'x86_64', 'arm_cortex-a9_vfpv3-d16', 'aarch64_cortex-a53']) {
      expect(loadConfig({ OPENWRT_ARCH: arch }).sets[0]?.arch).to.equal(arch);
    }
  });

  it('accepts fractions where the table allows them and strips a trailing slash from the URL', () => {
    const config = loadConfig(
      {
        RATE_LIMIT: '0.5',
        RETRY_DELAY: '0.25',
        DOWNLOAD_TIMEOUT: '1.5',
        UPSTREAM_URL: 'http://127.0.0.1:8000/',
      },
      '/work',
    );
    expect(config.rateLimit).to.equal(0.5);
    expect(config.retryDelayMs).to.equal(250);
    expect(config.timeoutMs).to.equal(1500);
    expect(config.upstreamUrl).to.equal('http://127.0.0.1:8000');
  });

  const bad: [string, string, RegExp][] = [
    ['MIRROR_MODE', 'mirror-all', /selective, full/],
    ['RATE_LIMIT', '0', />= 0.001/],
    // Each of these would overflow the timer it feeds (2^31 - 1 ms) and fire at once.
    ['RATE_LIMIT', '0.0000001', />= 0.001/],
    ['SYNC_JITTER', '99999999', /<= 86400/],
    ['RETRY_DELAY', '7200', /<= 3600/],
    ['DOWNLOAD_TIMEOUT', '1e9', /number/],
    ['DOWNLOAD_TIMEOUT', '0.0000001', />= 0.1/],
    ['DOWNLOAD_MIN_RATE', '-1', />= 0/],
    ['DOWNLOAD_MIN_RATE', 'slow', /number/],
    ['RATE_LIMIT', 'fast', /number/],
    ['CONCURRENCY', '2.5', /whole number/],
    ['CONCURRENCY', '0', />= 1/],
    ['MAX_RETRIES', '-1', /whole number/],
    ['SYNC_SCHEDULE', '0 25 * * *', /cron expression/],
    ['SYNC_SCHEDULE', 'nightly', /cron expression/],
    ['UPSTREAM_URL', 'downloads.openwrt.org', /URL/],
    ['UPSTREAM_URL', 'ftp://downloads.openwrt.org', /URL/],
    ['OPENWRT_VERSION', '../../etc', /release/],
    ['OPENWRT_TARGET', 'ramips', /target\/subtarget/],
    ['OPENWRT_TARGET', 'x86/64,ramips', /target\/subtarget.*bad item "ramips"/],
    ['OPENWRT_VERSION', '24.10.4 ../x', /release.*bad item/],
    ['OPENWRT_ARCH', 'mipsel 24kc', /architecture/],
    ['OPENWRT_FEEDS', 'base,../x', /bad item/],
    ['OPENWRT_FEEDS', 'core,base', /core and kmods/],
    ['SYNC_ON_START', 'maybe', /true or false/],
    ['TZ', 'Mars/Olympus', /time zone/],
    ['LOG_LEVEL', 'loud', /one of/],
    ['LOG_FORMAT', 'xml', /one of json, pretty/],
    ['HTTP_PORT', '70000', /<= 65535/],
  ];
  for (const [variable, value, expected] of bad) {
    it(`refuses ${variable}=${value} with a message naming the variable and the value`, () => {
      const error = configError({ [variable]: value });
      expect(error.variable).to.equal(variable);
      expect(error.message).to.contain(variable).and.contain(JSON.stringify(value));
      expect(error.message).to.match(expected);
    });
  }
});
