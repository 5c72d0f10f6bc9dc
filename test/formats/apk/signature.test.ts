import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadTrustedKeys, parseApkPublicKey, type TrustedKeys } from '../../../worker/feeds/trusted-keys.js';
import { decompressAdb } from '../../../worker/formats/apk/adb.js';
import { parseApkIndex } from '../../../worker/formats/apk/apk-index.js';
import { verifyApkIndex } from '../../../worker/formats/apk/signature.js';
import {
  adbBlock,
  adbContainer,
  adbFile,
  apkTestSigner,
  BLOCK_ADB,
  BLOCK_SIG,
  buildApkFeed,
  buildApkPackage,
  buildIndexPayload,
  createApkSigner,
  SCHEMA_INDEX,
} from '../../helpers/adb-writer.js';
import { refusal } from './helpers.js';

const FIXTURES = new URL('../../fixtures/apk/', import.meta.url);
const feedIndex = readFileSync(new URL('signed-feed/packages.adb', FIXTURES));
const kmodsIndex = readFileSync(new URL('aarch64-25.12.2-kmods.packages.adb', FIXTURES));
const MELMAC_KEY_ID = 'bf8e0c844269e563e20782a19fde51e2';
const OPENWRT_KEY_ID = '026c4bef63b5dcffaf46115a5f610f76';

describe('apk/signature', () => {
  let dir: string;
  /** A keys directory holding only `files` (name → PEM file to copy or PEM text). */
  const keysWith = async (files: Record<string, URL | string>): Promise<TrustedKeys> => {
    const keysDir = await mkdtemp(join(dir, 'keys-'));
    for (const [name, source] of Object.entries(files)) {
      if (typeof source === 'string') await writeFile(join(keysDir, name), source);
      else await copyFile(source, join(keysDir, name));
    }
    const keys = await loadTrustedKeys(keysDir);
    expect(keys.problems).to.deep.equal([]);
    return keys;
  };
  const melmacKey = () =>
    keysWith({ 'apk.openwrt.melmac.ca.pem': new URL('signed-feed/apk.openwrt.melmac.ca.pem', FIXTURES) });
  const openwrtKey = () => keysWith({ 'openwrt-25.12.pem': new URL('openwrt-25.12.pem', FIXTURES) });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'owm-apk-sig-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies the signed feed with its own key, from the parsed index or the raw file', async () => {
    const keys = await melmacKey();
    expect(verifyApkIndex(parseApkIndex(feedIndex), keys)).to.deep.equal({ keyId: MELMAC_KEY_ID });
    expect(verifyApkIndex(feedIndex, keys)).to.deep.equal({ keyId: MELMAC_KEY_ID });
  });

  it('refuses the signed feed with the OpenWrt 25.12 key, naming the key it was signed with', async () => {
    const error = refusal(() => verifyApkIndex(parseApkIndex(feedIndex), { ecdsa: new Map() }));
    expect(error.message).to.contain('no .pem key');
    const keys = await openwrtKey();
    expect(refusal(() => verifyApkIndex(feedIndex, keys)).message).to.equal(
      `packages.adb: signed by apk key ${MELMAC_KEY_ID}, which is not trusted (trusted apk keys: ${OPENWRT_KEY_ID} (openwrt-25.12.pem))`,
    );
  });

  it('refuses the kmods index, signed by a build key that is not public', async () => {
    const keys = await openwrtKey();
    const index = parseApkIndex(kmodsIndex);
    expect(refusal(() => verifyApkIndex(index, keys)).message).to.match(
      /signed by apk key d1266a603f0056b9d74ac513db098fb9, which is not trusted \(trusted apk keys: 026c4bef/,
    );
  });

  it('keeps the signature valid through recompression: only the ADB block is signed', async () => {
    const { container } = decompressAdb(feedIndex);
    expect(verifyApkIndex(adbFile(container, 'none'), await melmacKey())).to.deep.equal({
      keyId: MELMAC_KEY_ID,
    });
  });

  it("verifies the test writer's index with the key id apk and the key loader compute alike", async () => {
    expect(parseApkPublicKey(apkTestSigner.publicKeyPem, 'test.pem').keyId).to.equal(apkTestSigner.keyId);
    const keys = await keysWith({ 'test.pem': apkTestSigner.publicKeyPem });
    const feed = buildApkFeed([{ name: 'a', version: '1' }]);
    expect(verifyApkIndex(parseApkIndex(feed.index), keys)).to.deep.equal({ keyId: apkTestSigner.keyId });
  });

  it('refuses an index whose packages changed after signing', async () => {
    const keys = await keysWith({ 'test.pem': apkTestSigner.publicKeyPem });
    const pkg = { name: 'a', version: '1.0-r1' };
    const entries = [{ pkg, apk: buildApkPackage(pkg) }];
    const payload = buildIndexPayload(entries);
    const signature = apkTestSigner.sign(SCHEMA_INDEX, payload);
    const tampered = Buffer.from(payload);
    const at = tampered.indexOf('1.0-r1');
    tampered.write('9', at);
    const file = adbFile(
      adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, tampered), adbBlock(BLOCK_SIG, signature)]),
    );
    const index = parseApkIndex(file);
    expect(index.packages[0]?.version).to.equal('9.0-r1');
    expect(refusal(() => verifyApkIndex(index, keys)).message).to.equal(
      `packages.adb: bad signature: key ${apkTestSigner.keyId} (test.pem): the signature does not verify`,
    );
    // A garbled signature (not even DER) is a bad signature too, never a crash.
    const garbled = Buffer.concat([signature.subarray(0, 18), Buffer.from('not DER')]);
    const file2 = adbFile(
      adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload), adbBlock(BLOCK_SIG, garbled)]),
    );
    expect(refusal(() => verifyApkIndex(file2, keys)).message).to.contain('does not verify');
  });

  it('refuses an unsigned index', () => {
    const feed = buildApkFeed([{ name: 'a', version: '1' }], { signers: [] });
    expect(refusal(() => verifyApkIndex(feed.index, { ecdsa: new Map() })).message).to.equal(
      'packages.adb: the index is not signed (no SIG block)',
    );
  });

  it('accepts any one good signature by a trusted key among several', async () => {
    const stranger = createApkSigner();
    const keys = await keysWith({ 'test.pem': apkTestSigner.publicKeyPem });
    const feed = buildApkFeed([{ name: 'a', version: '1' }], { signers: [stranger, apkTestSigner] });
    expect(parseApkIndex(feed.index).signatures.map((s) => s.keyId)).to.deep.equal([
      stranger.keyId,
      apkTestSigner.keyId,
    ]);
    expect(verifyApkIndex(feed.index, keys)).to.deep.equal({ keyId: apkTestSigner.keyId });
    // A bad signature by a trusted key does not spoil a good one that follows.
    const both = await keysWith({ 'a.pem': stranger.publicKeyPem, 'b.pem': apkTestSigner.publicKeyPem });
    const payload = buildIndexPayload([]);
    const bad = stranger.sign(SCHEMA_INDEX, Buffer.from('other payload'));
    const good = apkTestSigner.sign(SCHEMA_INDEX, payload);
    const file = adbFile(
      adbContainer(SCHEMA_INDEX, [
        adbBlock(BLOCK_ADB, payload),
        adbBlock(BLOCK_SIG, bad),
        adbBlock(BLOCK_SIG, good),
      ]),
    );
    expect(verifyApkIndex(file, both)).to.deep.equal({ keyId: apkTestSigner.keyId });
  });

  it('verifies a SHA-256 ADB digest and refuses an unknown hash algorithm', async () => {
    const keys = await keysWith({ 'test.pem': apkTestSigner.publicKeyPem });
    const payload = buildIndexPayload([]);
    const sha256 = apkTestSigner.sign(SCHEMA_INDEX, payload, 3);
    const ok = adbFile(
      adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload), adbBlock(BLOCK_SIG, sha256)]),
    );
    expect(verifyApkIndex(ok, keys)).to.deep.equal({ keyId: apkTestSigner.keyId });
    const odd = Buffer.from(sha256);
    odd[1] = 9;
    const bad = adbFile(adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload), adbBlock(BLOCK_SIG, odd)]));
    expect(refusal(() => verifyApkIndex(bad, keys)).message).to.contain('unsupported hash algorithm 9');
  });
});
