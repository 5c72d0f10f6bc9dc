import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { floorMs, spacingMs } from '../../worker/upstream/gate.js';
import { Spacer } from '../../worker/upstream/spacer.js';

/** `count` turns, each held up `heldMs(i)` between being let through and being sent; the send times. */
async function sends(spacer: Spacer, count: number, heldMs: (i: number) => number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const turn = await spacer.take();
    await new Promise((resolve) => setTimeout(resolve, heldMs(i)));
    turn.sent();
    times.push(performance.now());
  }
  return times;
}

const gaps = (times: number[]) => times.slice(1).map((time, i) => time - (times[i] as number));

describe('upstream spacer', () => {
  it('keeps the schedule when each request takes a little while from the gate to the socket', async () => {
    // 100 ms apart on the schedule, never closer than 90: a request held up 5 ms costs nothing.
    const times = await sends(new Spacer(100, undefined, 90), 6, () => 5);
    expect(Math.min(...gaps(times))).to.be.at.least(90);
    // Spaced from each send, the held-up time (and each timer's lateness) would add up: 5 × 105+.
    expect((times.at(-1) as number) - (times[0] as number)).to.be.below(5 * 100 + 20);
  });

  it('never lets two sends come closer than the floor, and moves the schedule after a long hold-up', async () => {
    // The third request is held up 60 ms: the fourth still waits the floor after it.
    const times = await sends(new Spacer(100, undefined, 90), 5, (i) => (i === 2 ? 60 : 1));
    const between = gaps(times);
    expect(Math.min(...between)).to.be.at.least(90);
    expect(between[2]).to.be.at.least(90);
  });

  it('spaces RATE_LIMIT + 1 starts more than a second apart, and two never closer than 1 / RATE_LIMIT', () => {
    for (const rate of [0.5, 1, 2, 2.5, 5, 8, 20, 50, 100, 1000]) {
      const spacing = spacingMs(rate);
      const floor = floorMs(rate);
      expect(floor, `floor at ${rate}/s`).to.be.at.least(1000 / rate);
      expect(floor, `floor at ${rate}/s`).to.be.at.most(spacing);
      // Any n + 1 consecutive sends span at least max(n × floor, n × spacing − (spacing − floor)).
      const n = Math.max(1, Math.ceil(rate));
      const span = Math.max(n * floor, n * spacing - (spacing - floor));
      expect(span, `span of ${n + 1} starts at ${rate}/s`).to.be.at.least(1010);
    }
  });
});
