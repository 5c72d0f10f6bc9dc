/** Small helpers the apk tests share. */
import { expect } from 'chai';
import { UntrustedInputError } from '../../../worker/errors.js';

/** Runs `fn`, which must refuse its input with an UntrustedInputError; returns that error. */
export function refusal(fn: () => unknown): UntrustedInputError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(UntrustedInputError);
    return error as UntrustedInputError;
  }
  return expect.fail('expected an UntrustedInputError');
}

/** A seeded pseudo-random generator (mulberry32), so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
