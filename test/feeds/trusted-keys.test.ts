import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { BUNDLED_KEYS_DIR } from '../../worker/config.js';
import { loadTrustedKeys, parseApkPublicKey } from '../../worker/feeds/trusted-keys.js';
import { verifyUsign } from '../../worker/feeds/usign.js';
import { makeUsignKey } from './usign-keys.js';

const APK_PEM = new URL('../fixtures/apk/openwrt-25.12.pem', import.meta.url);

describe('feeds/trusted-keys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'owm-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the bundled keys: the OpenWrt 24.10 usign key and the 25.12 apk key, nothing skipped', async () => {
    const keys = await loadTrustedKeys(BUNDLED_KEYS_DIR);
    expect([...keys.usign.keys()]).to.deep.equal(['d310c6f2833e97f7']);
    expect([...keys.ecdsa.keys()]).to.deep.equal(['026c4bef63b5dcffaf46115a5f610f76']);
    expect(keys.problems).to.deep.equal([]);
    expect(keys.describe()).to.deep.equal([
      'usign d310c6f2833e97f7 (Public usign key for 24.10 release builds)',
      'apk 026c4bef63b5dcffaf46115a5f610f76 (openwrt-25.12.pem)',
    ]);
  });

  it('loads every key file, skips dotfiles, docs and subdirectories, and reports files that do not parse', async () => {
    const a = makeUsignKey('00000000000000aa');
    const b = makeUsignKey('00000000000000bb');
    await writeFile(join(dir, '00000000000000aa'), a.publicText);
    await writeFile(join(dir, 'my-key.pub'), b.publicText);
    await writeFile(join(dir, '.hidden'), 'not a key');
    await writeFile(join(dir, 'README.md'), '# keys');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', '00000000000000cc'), makeUsignKey('00000000000000cc').publicText);
    await writeFile(join(dir, 'broken'), 'untrusted comment: x\nnot-base64!\n');
    await writeFile(join(dir, 'openwrt-25.12.pem'), await readFile(APK_PEM));

    const keys = await loadTrustedKeys(dir);
    expect([...keys.usign.keys()].sort()).to.deep.equal(['00000000000000aa', '00000000000000bb']);
    expect([...keys.ecdsa.keys()]).to.deep.equal(['026c4bef63b5dcffaf46115a5f610f76']);
    expect(keys.problems).to.have.length(1);
    expect(keys.problems[0]).to.match(/broken: skipped: malformed usign public key/);
    expect(keys.describe()).to.deep.equal([
      'usign 00000000000000aa (public key 00000000000000aa)',
      'usign 00000000000000bb (public key 00000000000000bb)',
      'apk 026c4bef63b5dcffaf46115a5f610f76 (openwrt-25.12.pem)',
    ]);

    const message = Buffer.from('signed index');
    expect(verifyUsign(message, b.sign(message), keys).fingerprint).to.equal('00000000000000bb');
  });

  it('follows a symlink to a key file', async () => {
    const a = makeUsignKey('00000000000000aa');
    await writeFile(join(dir, 'real'), a.publicText);
    await mkdir(join(dir, 'linked'));
    await symlink(join(dir, 'real'), join(dir, 'linked', '00000000000000aa'));
    const keys = await loadTrustedKeys(join(dir, 'linked'));
    expect([...keys.usign.keys()]).to.deep.equal(['00000000000000aa']);
  });

  it('warns when a file is named after another fingerprint than the one it holds', async () => {
    await writeFile(join(dir, '1111111111111111'), makeUsignKey('00000000000000aa').publicText);
    const keys = await loadTrustedKeys(dir);
    expect([...keys.usign.keys()]).to.deep.equal(['00000000000000aa']);
    expect(keys.problems.join('\n')).to.match(
      /1111111111111111: file name differs from the key's fingerprint 00000000000000aa/,
    );
  });

  it('names the directory when it cannot be read', async () => {
    const missing = join(dir, 'nope');
    let error: Error | undefined;
    await loadTrustedKeys(missing).catch((err: Error) => {
      error = err;
    });
    expect(error?.message).to.equal(`cannot read the trusted keys directory ${missing}: ENOENT`);
  });

  it('computes the apk key id of the OpenWrt 25.12 release key', async () => {
    const key = parseApkPublicKey(await readFile(APK_PEM, 'utf8'), 'openwrt-25.12.pem');
    expect(key.keyId).to.equal('026c4bef63b5dcffaf46115a5f610f76');
  });
});
