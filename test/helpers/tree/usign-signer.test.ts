import { expect } from 'chai';
import { createUsignSigner } from '../usign-signer.js';
import { signatureValid } from './readers.js';

describe('usign signer', () => {
  it('writes usign public keys and signatures that node:crypto verifies', () => {
    const signer = createUsignSigner('Test key for the lab');
    expect(signer.fingerprint).to.match(/^[0-9a-f]{16}$/);
    expect(signer.publicKeyFile.startsWith('untrusted comment: Test key for the lab\n')).to.equal(true);
    const data = Buffer.from('Package: x\n\n');
    const sig = Buffer.from(signer.sign(data));
    expect(sig.toString().startsWith(`untrusted comment: signed by key ${signer.fingerprint}\n`)).to.equal(
      true,
    );
    expect(signatureValid(data, sig, signer)).to.equal(true);
    expect(signatureValid(Buffer.from('Package: y\n\n'), sig, signer)).to.equal(false);
    expect(signatureValid(data, sig, createUsignSigner())).to.equal(false);
  });
});
