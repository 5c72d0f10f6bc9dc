import { expect } from 'chai';
import { MAX_TIMER_MS, sleep } from '../../worker/upstream/delay.js';

describe('upstream delay', () => {
  it('waits longer than one timer can hold in pieces that fit, neither firing nor spinning early', async () => {
    // An overflowing setTimeout warns and fires after 1 ms: woken early, or re-armed every millisecond.
    const overflows: string[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message);
    };
    process.on('warning', onWarning);
    const stop = new AbortController();
    let woke = false;
    const long = sleep(MAX_TIMER_MS + 1000, stop.signal).then(
      () => {
        woke = true;
      },
      (error: unknown) => error,
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(woke).to.equal(false);
      stop.abort(new Error('shutdown'));
      expect(((await long) as Error).message).to.equal('shutdown');
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(overflows).to.deep.equal([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('resolves a short wait, and rejects at once when already stopped', async () => {
    await sleep(5);
    const stopped = AbortSignal.abort(new Error('already'));
    const error = await sleep(10_000, stopped).catch((e: unknown) => e);
    expect((error as Error).message).to.equal('already');
  });
});
