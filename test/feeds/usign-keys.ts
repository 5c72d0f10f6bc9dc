/** Test helper: usign key pairs laid out as `usign -G` writes them, signing as `usign -S` does. */
import { generateKeyPairSync, sign } from 'node:crypto';

export interface TestUsignKey {
  /** The public key file's text. */
  publicText: string;
  /** The signature file's text for `message`. */
  sign(message: Buffer): string;
}

export function makeUsignKey(fingerprintHex: string): TestUsignKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const fingerprint = Buffer.from(fingerprintHex, 'hex');
  const file = (comment: string, payload: Buffer): string =>
    `untrusted comment: ${comment}\n${Buffer.concat([Buffer.from('Ed'), fingerprint, payload]).toString('base64')}\n`;
  return {
    publicText: file(`public key ${fingerprintHex}`, raw),
    sign: (message) => file(`signed by key ${fingerprintHex}`, sign(null, message, privateKey)),
  };
}
