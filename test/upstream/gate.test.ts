/**
 * The gate's queue: who gets a free slot first. Downloads of several plans wait together; they go
 * out largest first, requests of unknown size (indexes) before any, background ones after the rest.
 */
import { expect } from 'chai';
import { Gate } from '../../worker/upstream/gate.js';

describe('upstream gate', () => {
  it('gives a free slot to the largest waiting request, unknown sizes first, background last', async () => {
    const gate = new Gate({ rateLimit: 1000, concurrency: 1 });
    gate.limitBackground(false);
    const holder = await gate.enter();
    const order: string[] = [];
    const wait = (name: string, priority: 'normal' | 'background', size?: number) =>
      gate.enter(priority, size).then((pass) => {
        order.push(name);
        pass.sent();
        pass.release();
      });
    const all = Promise.all([
      wait('small', 'normal', 10),
      wait('index', 'normal'),
      wait('big', 'normal', 30),
      wait('huge image', 'background'),
      wait('middle', 'normal', 20),
      wait('big background', 'background', 500),
      wait('another index', 'normal'),
      wait('another middle', 'normal', 20),
    ]);
    holder.sent();
    holder.release();
    await all;
    expect(order).to.deep.equal([
      'index',
      'another index',
      'big',
      'middle',
      'another middle',
      'small',
      'huge image',
      'big background',
    ]);
  });
});
