/**
 * The gate's queue: who gets a free slot first. Downloads of several plans wait together; they go
 * out largest first, requests of unknown size (indexes) before any, background ones after the rest
 * (every other start in the index phase), side ones where the rate has a start to spare.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { Gate, type Priority } from '../../worker/upstream/gate.js';

/** Queues a request that, once let through, records its name, is sent and is done at once. */
function waiter(gate: Gate, order: string[]) {
  return (name: string, priority: Priority, size?: number) =>
    gate.enter(priority, size).then((pass) => {
      order.push(name);
      pass.sent();
      pass.release();
    });
}

describe('upstream gate', () => {
  it('gives a free slot to the largest waiting request, unknown sizes first, background last', async () => {
    const gate = new Gate({ rateLimit: 1000, concurrency: 1 });
    gate.limitBackground(false);
    const holder = await gate.enter();
    const order: string[] = [];
    const wait = waiter(gate, order);
    const all = Promise.all([
      wait('manifest', 'side'),
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
      'manifest',
    ]);
  });

  it('in the index phase, gives background requests every other start', async () => {
    const gate = new Gate({ rateLimit: 1000, concurrency: 2 });
    const holder = await gate.enter();
    const order: string[] = [];
    const wait = waiter(gate, order);
    const all = Promise.all([
      ...['i1', 'i2', 'i3'].map((name) => wait(name, 'normal')),
      ...['b1', 'b2', 'b3'].map((name) => wait(name, 'background', 100)),
    ]);
    holder.sent();
    holder.release();
    await all;
    expect(order).to.deep.equal(['b1', 'i1', 'b2', 'i2', 'b3', 'i3']);
  });

  it('in the index phase, lets a background request take the last slot when a start is to be had at once', async () => {
    // 1000/s: starts to spare, the connections bind. The first image holds the background share (1 of 2).
    const gate = new Gate({ rateLimit: 1000, concurrency: 2 });
    const image = await gate.enter('background', 500);
    image.sent();
    await sleep(20);
    const order: string[] = [];
    const second = waiter(gate, order)('second image', 'background', 400);
    await sleep(20);
    expect(order, 'the second image waits for no slot').to.deep.equal(['second image']);
    await second;
    image.release();
  });

  it('in the index phase, keeps the last slot for the indexes while the rate binds', async () => {
    // 5/s: the image just sent leaves no start to spare for ~200 ms.
    const gate = new Gate({ rateLimit: 5, concurrency: 2 });
    const image = await gate.enter('background', 500);
    image.sent();
    const order: string[] = [];
    const wait = waiter(gate, order);
    const queued = [wait('second image', 'background', 400)];
    await sleep(20);
    queued.push(wait('index', 'normal'));
    await queued[1];
    expect(order, 'the index takes the last slot, asked after the image').to.deep.equal(['index']);
    image.release();
    await Promise.all(queued);
    expect(order).to.deep.equal(['index', 'second image']);
  });

  it('gives a side request the slot a download gives back when a start is to be had at once', async () => {
    const gate = new Gate({ rateLimit: 1000, concurrency: 1 });
    gate.limitBackground(false);
    const download = await gate.enter('normal', 500);
    download.sent();
    const order: string[] = [];
    const wait = waiter(gate, order);
    const all = Promise.all([wait('next download', 'normal', 400), wait('manifest', 'side')]);
    await sleep(20);
    download.release();
    await all;
    expect(order).to.deep.equal(['manifest', 'next download']);
  });

  it('keeps side requests behind the downloads while the rate binds, and behind any index', async () => {
    // 5/s: the download just sent leaves no start to spare for ~200 ms.
    const busy = new Gate({ rateLimit: 5, concurrency: 1 });
    busy.limitBackground(false);
    const download = await busy.enter('normal', 500);
    download.sent();
    const order: string[] = [];
    const all = Promise.all([
      waiter(busy, order)('next download', 'normal', 400),
      waiter(busy, order)('manifest', 'side'),
    ]);
    download.release();
    await all;
    expect(order).to.deep.equal(['next download', 'manifest']);

    const indexing = new Gate({ rateLimit: 1000, concurrency: 1 });
    const image = await indexing.enter('background', 500);
    image.sent();
    const after: string[] = [];
    const both = Promise.all([
      waiter(indexing, after)('index', 'normal'),
      waiter(indexing, after)('manifest', 'side'),
    ]);
    await sleep(20);
    image.release();
    await both;
    expect(after).to.deep.equal(['index', 'manifest']);
  });
});
