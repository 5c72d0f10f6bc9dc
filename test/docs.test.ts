/**
 * The documentation users read agrees with the code: every variable the configuration reads is in
 * the README's table, in .env.example and passed through by docker-compose.yml, and lists of values
 * are the code's own.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { LOG_LEVELS } from '../worker/config.js';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** The variables worker/config.ts reads, from its source: `read.<kind>('NAME'`. */
function configVariables(): string[] {
  const source = read('worker/config.ts');
  return [...new Set([...source.matchAll(/read\.\w+\(\s*'([A-Z_]+)'/g)].map((m) => m[1] as string))];
}

describe('documentation', () => {
  const readme = read('README.md');
  const example = read('.env.example');
  const compose = read('docker-compose.yml');
  /** Set by the stack itself, not by the user. */
  const stackOnly = new Set([
    'OPENWRT_EXTRA_KEYS_DIR',
    'MIRROR_DIR',
    'HTTP_PORT',
    'ACCESS_LOG_DIR',
    'TLS_DIR',
  ]);

  it('names every configuration variable in the README table, .env.example and the compose file', () => {
    const variables = configVariables();
    expect(variables).to.include.members(['OPENWRT_VERSION', 'DOWNLOAD_MIN_RATE', 'LOG_LEVEL']);
    for (const variable of variables) {
      expect(readme, `README: ${variable}`).to.match(new RegExp(`^\\| [^|]*\`${variable}\``, 'm'));
      expect(example, `.env.example: ${variable}`).to.match(new RegExp(`^#? ?${variable}=`, 'm'));
      if (!stackOnly.has(variable)) {
        expect(compose, `docker-compose.yml: ${variable}`).to.match(new RegExp(`^ +- ${variable}$`, 'm'));
      }
    }
    expect(compose).to.match(/^ +- OPENWRT_EXTRA_KEYS_DIR=\/srv\/keys\.d$/m);
    expect(compose).to.match(/^ +- \.\/keys\.d:\/srv\/keys\.d:ro$/m);
    // The access log: nginx writes into the volume the worker reads, where ACCESS_LOG_DIR says.
    expect(compose).to.match(/^ +- ACCESS_LOG_DIR=\/srv\/access-log$/m);
    expect(compose).to.match(/^ +- access-log:\/srv\/access-log$/m);
    expect(compose).to.match(/^ +- access-log:\/var\/log\/openwrt-mirror$/m);
    expect(compose).to.match(/^ +- \.\/nginx\/openwrt-mirror\.d:\/etc\/nginx\/openwrt-mirror\.d:ro$/m);
    // HTTPS: the worker writes the certificate where nginx's script looks for it.
    expect(compose).to.match(/^ +- TLS_DIR=\/srv\/tls$/m);
    expect(compose).to.match(/^ +- tls:\/srv\/tls$/m);
    expect(compose).to.match(/^ +- tls:\/srv\/tls:ro$/m);
    expect(compose).to.match(/^ +TLS_DIR: \/srv\/tls$/m);
    expect(compose).to.match(/^ +- "\$\{HTTPS_PORT:-8443\}:8443"$/m);
  });

  it('lists the same LOG_LEVEL values as the code, in README and .env.example', () => {
    const row = readme.split('\n').find((line) => line.startsWith('| `LOG_LEVEL`')) ?? '';
    const levels = (text: string) =>
      [...text.matchAll(/\b(error|warn|info|http|verbose|debug|silly)\b/g)].map((m) => m[1]);
    expect(new Set(levels(row))).to.deep.equal(new Set(LOG_LEVELS));
    const line = example.split('\n').find((l) => /^# Log level/.test(l)) ?? '';
    expect(new Set(levels(line))).to.deep.equal(new Set(LOG_LEVELS));
  });
});
