import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { BUNDLED_KEYS_DIR } from '../../worker/config.js';
import { UntrustedInputError, UntrustedKeyError } from '../../worker/errors.js';
import { createTrustedKeys } from '../../worker/feeds/trusted-keys.js';
import { parseUsignPublicKey, parseUsignSignature, verifyUsign } from '../../worker/feeds/usign.js';
import { makeUsignKey } from './usign-keys.js';

describe('feeds/usign', () => {
  const signer = makeUsignKey('0123456789abcdef');
  const message = Buffer.from('Package: a\nVersion: 1\n\n');
  const keys = createTrustedKeys([parseUsignPublicKey(signer.publicText)]);

  it('parses the bundled OpenWrt 24.10 release key', () => {
    const key = parseUsignPublicKey(readFileSync(join(BUNDLED_KEYS_DIR, 'd310c6f2833e97f7'), 'utf8'));
    expect(key.fingerprint).to.equal('d310c6f2833e97f7');
    expect(key.comment).to.equal('Public usign key for 24.10 release builds');
    expect(key.key.asymmetricKeyType).to.equal('ed25519');
  });

  it('parses a signature file', () => {
    const sig = parseUsignSignature(signer.sign(message));
    expect(sig.fingerprint).to.equal('0123456789abcdef');
    expect(sig.signature).to.have.length(64);
    expect(sig.comment).to.equal('signed by key 0123456789abcdef');
  });

  it('verifies a good signature and names the key', () => {
    expect(verifyUsign(message, signer.sign(message), keys)).to.deep.equal({
      fingerprint: '0123456789abcdef',
    });
  });

  it('accepts CRLF and a missing final newline', () => {
    const sig = signer.sign(message).trimEnd().replace('\n', '\r\n');
    expect(verifyUsign(message, sig, keys).fingerprint).to.equal('0123456789abcdef');
  });

  it('fails when one byte of the message differs', () => {
    const sig = signer.sign(message);
    const tampered = Buffer.from(message);
    tampered[3] = (tampered[3] ?? 0) ^ 1;
    expect(() => verifyUsign(tampered, sig, keys)).to.throw(UntrustedInputError, /signature does not match/);
  });

  it('fails when the signature is by an untrusted key, naming both keys', () => {
    const stranger = makeUsignKey('fedcba9876543210');
    expect(() => verifyUsign(message, stranger.sign(message), keys)).to.throw(
      UntrustedKeyError,
      'signed by usign key fedcba9876543210, which is not trusted (trusted usign keys: 0123456789abcdef)',
    );
    expect(() => verifyUsign(message, stranger.sign(message), createTrustedKeys([]))).to.throw(
      /trusted usign keys: none/,
    );
  });

  it('fails when a trusted fingerprint is paired with another key (forged fingerprint)', () => {
    const impostor = makeUsignKey('0123456789abcdef');
    expect(() => verifyUsign(message, impostor.sign(message), keys)).to.throw(/signature does not match/);
  });

  const good = signer.sign(message);
  const [comment = '', b64 = ''] = good.split('\n');
  const malformed: [string, string, RegExp][] = [
    ['empty', '', /first line/],
    ['no comment line', `${b64}\n`, /first line/],
    ['no base64 line', `${comment}\n`, /no base64/],
    ['not base64', `${comment}\n!!!!${b64.slice(4)}\n`, /not base64/],
    ['too short', `${comment}\n${b64.slice(0, 40)}\n`, /decodes to 30 bytes, expected 74/],
    ['a public key instead', signer.publicText, /expected 74/],
    [
      'another algorithm',
      `${comment}\n${Buffer.concat([Buffer.from('RS'), Buffer.from(b64, 'base64').subarray(2)]).toString('base64')}\n`,
      /algorithm is "RS"/,
    ],
    ['trailing lines', `${good}more\n`, /unexpected lines/],
    ['huge', `${comment}\n${'A'.repeat(10_000)}\n`, /larger than/],
  ];
  for (const [what, text, reason] of malformed) {
    it(`refuses a malformed signature file: ${what}`, () => {
      expect(() => verifyUsign(message, text, keys))
        .to.throw(UntrustedInputError, reason)
        .with.property('message')
        .that.matches(/^malformed signature file: /);
    });
  }

  it('refuses a malformed public key', () => {
    expect(() => parseUsignPublicKey(good)).to.throw(
      UntrustedInputError,
      /malformed usign public key: .*expected 42/,
    );
    expect(() => parseUsignPublicKey('hello')).to.throw(UntrustedInputError, /malformed usign public key/);
  });
});
