import { deflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import {
  ADB_SCHEMA_INDEX,
  ADB_SCHEMA_PACKAGE,
  AdbPayload,
  decompressAdb,
  parseAdbContainer,
  readAdbFile,
} from '../../../worker/formats/apk/adb.js';
import {
  AdbPayloadWriter,
  adbBlock,
  adbContainer,
  adbFile,
  BLOCK_ADB,
  BLOCK_DATA,
  BLOCK_SIG,
  SCHEMA_INDEX,
} from '../../helpers/adb-writer.js';
import { refusal } from './helpers.js';

/** The UntrustedInputError `fn` throws; fails the test on any other outcome. */

/** A payload with the given root, written by hand: header, then `body` at offset 8. */
function rawPayload(root: number, body: number[] | Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(root, 4);
  return Buffer.concat([header, Buffer.isBuffer(body) ? body : u32s(body)]);
}

function u32s(values: number[]): Buffer {
  const out = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => {
    out.writeUInt32LE(v >>> 0, 4 * i);
  });
  return out;
}

const OBJ = (offset: number) => (0xe0000000 | offset) >>> 0;
const ARR = (offset: number) => (0xd0000000 | offset) >>> 0;

const sample = (() => {
  const w = new AdbPayloadWriter();
  const root = w.object([w.blob('a description'), w.array([w.object([w.blob('pkg'), w.blob('1.0-r1')])])]);
  return w.finish(root);
})();
const sampleContainer = adbContainer(SCHEMA_INDEX, [
  adbBlock(BLOCK_ADB, sample),
  adbBlock(BLOCK_SIG, Buffer.alloc(20)),
]);

describe('apk/adb', () => {
  describe('compression wrapper', () => {
    it('reads ADB. (stored), ADBd (raw deflate) and ADBc with deflate or none', () => {
      for (const compression of ['none', 'deflate', 'adbc-deflate', 'adbc-none'] as const) {
        const { container } = decompressAdb(adbFile(sampleContainer, compression));
        expect(container.equals(sampleContainer), compression).to.equal(true);
      }
    });

    it('refuses zstd with a clear message, and unknown markers and algorithms', () => {
      const zstd = Buffer.concat([Buffer.from('ADBc'), Buffer.from([2, 3]), Buffer.alloc(40)]);
      expect(refusal(() => decompressAdb(zstd, { what: 'packages.adb' })).message).to.equal(
        "packages.adb: zstd-compressed ADB (ADBc algorithm 2) is not supported; OpenWrt's apk uses deflate",
      );
      expect(refusal(() => decompressAdb(Buffer.from('ADBx1234'))).message).to.contain(
        'unknown ADB compression marker "ADBx"',
      );
      expect(refusal(() => decompressAdb(Buffer.from('ADBc\x09\x00'))).message).to.contain('algorithm 9');
      expect(refusal(() => decompressAdb(Buffer.from('\x1f\x8b\x08\x00'))).message).to.contain(
        'not an apk v3 (ADB) file',
      );
      expect(refusal(() => decompressAdb(Buffer.from('AD'))).message).to.contain('too short');
    });

    it('refuses a corrupt deflate stream and one that decompresses beyond the limit', () => {
      const corrupt = Buffer.concat([Buffer.from('ADBd'), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
      expect(refusal(() => decompressAdb(corrupt)).message).to.contain('deflate stream is corrupt');
      const bomb = Buffer.concat([Buffer.from('ADBd'), deflateRawSync(Buffer.alloc(10_000_000))]);
      expect(bomb.length).to.be.below(20_000);
      expect(refusal(() => decompressAdb(bomb, { maxBytes: 1_000_000 })).message).to.contain(
        'decompresses to more than 1000000 bytes',
      );
      expect(
        refusal(() =>
          decompressAdb(Buffer.concat([Buffer.from('ADB.'), Buffer.alloc(100)]), { maxBytes: 50 }),
        ).message,
      ).to.contain('larger than the limit');
    });
  });

  describe('container and blocks', () => {
    it('reads the schema, the blocks in order and the ADB payload', () => {
      const parsed = parseAdbContainer(sampleContainer, { schema: ADB_SCHEMA_INDEX });
      expect(parsed.schema).to.equal(ADB_SCHEMA_INDEX);
      expect(parsed.blocks.map((b) => b.type)).to.deep.equal(['adb', 'sig']);
      expect(parsed.adb.equals(sample)).to.equal(true);
      expect(parsed.blocks[1]?.payload.length).to.equal(20);
    });

    it('reads extended (16-byte header) blocks', () => {
      const container = adbContainer(SCHEMA_INDEX, [
        adbBlock(BLOCK_ADB, sample, { extended: true }),
        adbBlock(BLOCK_DATA, Buffer.from('x'), { extended: true }),
      ]);
      const parsed = parseAdbContainer(container);
      expect(parsed.adb.equals(sample)).to.equal(true);
      expect(parsed.blocks[1]?.payload.toString()).to.equal('x');
    });

    it('enforces the order: ADB first, then SIG or DATA, only DATA after DATA', () => {
      const adb = adbBlock(BLOCK_ADB, sample);
      const sig = adbBlock(BLOCK_SIG, Buffer.alloc(20));
      const data = adbBlock(BLOCK_DATA, Buffer.alloc(3));
      expect(() => parseAdbContainer(adbContainer(SCHEMA_INDEX, [adb, sig, sig, data, data]))).not.to.throw();
      expect(refusal(() => parseAdbContainer(adbContainer(SCHEMA_INDEX, [sig, adb]))).message).to.equal(
        'ADB file: unexpected SIG block at offset 8: the first block must be ADB',
      );
      expect(refusal(() => parseAdbContainer(adbContainer(SCHEMA_INDEX, [adb, adb]))).message).to.contain(
        'unexpected ADB block at offset',
      );
      expect(
        refusal(() => parseAdbContainer(adbContainer(SCHEMA_INDEX, [adb, data, sig]))).message,
      ).to.contain('unexpected SIG block');
      expect(refusal(() => parseAdbContainer(adbContainer(SCHEMA_INDEX, []))).message).to.contain(
        'holds no ADB block',
      );
    });

    it('checks magic, schema, sizes, padding and block types', () => {
      const bad = Buffer.from(sampleContainer);
      bad.write('XDB.', 0, 'latin1');
      expect(refusal(() => parseAdbContainer(bad)).message).to.contain('bad container magic');
      expect(
        refusal(() => parseAdbContainer(sampleContainer, { schema: ADB_SCHEMA_PACKAGE })).message,
      ).to.equal('ADB file: schema is "indx", expected "pckg"');
      // The last block without its padding: apk refuses it too.
      expect(
        refusal(() => parseAdbContainer(sampleContainer.subarray(0, sampleContainer.length - 4))).message,
      ).to.match(/SIG block at offset \d+ claims 24 bytes \(24 padded\), but only 20 remain/);
      const tooBig = Buffer.from(sampleContainer);
      tooBig.writeUInt32LE(0x3fffffff, 8);
      expect(refusal(() => parseAdbContainer(tooBig)).message).to.contain('claims 1073741823 bytes');
      const tooSmall = Buffer.from(sampleContainer);
      tooSmall.writeUInt32LE(2, 8);
      expect(refusal(() => parseAdbContainer(tooSmall)).message).to.contain('less than its 4-byte header');
      const extHuge = adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, sample, { extended: true })]);
      extHuge.writeBigUInt64LE(0xffffffffffffffffn, 16);
      expect(refusal(() => parseAdbContainer(extHuge)).message).to.contain('absurd size');
      const extType = adbContainer(SCHEMA_INDEX, [adbBlock(7, sample, { extended: true })]);
      expect(refusal(() => parseAdbContainer(extType)).message).to.contain('unknown type 7');
      const tinyAdb = adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, Buffer.alloc(4))]);
      expect(refusal(() => parseAdbContainer(tinyAdb)).message).to.contain('less than its 8-byte header');
      expect(refusal(() => parseAdbContainer(Buffer.from('ADB.'))).message).to.contain('too short');
      const many = adbContainer(SCHEMA_INDEX, [
        adbBlock(BLOCK_ADB, sample),
        ...Array(10).fill(adbBlock(BLOCK_DATA, Buffer.alloc(0))),
      ]);
      expect(() => parseAdbContainer(many, { maxBlocks: 11 })).not.to.throw();
      expect(refusal(() => parseAdbContainer(many, { maxBlocks: 10 })).message).to.equal(
        'ADB file: more than 10 blocks',
      );
    });
  });

  describe('values', () => {
    it('reads objects by slot, arrays tagged 0xd or 0xe, blobs of every width and integers', () => {
      const w = new AdbPayloadWriter();
      const long = 'x'.repeat(70_000);
      const root = w.object([
        w.blob('short'),
        w.blob('m'.repeat(300)),
        w.blob(long),
        w.int(5),
        w.int(0x12345678),
        w.int(2 ** 40),
        w.array([w.blob('one'), w.blob('two')]),
      ]);
      const adb = new AdbPayload(w.finish(root));
      const obj = adb.root();
      expect(obj.string(1)).to.equal('short');
      expect(obj.string(2)).to.have.length(300);
      expect(obj.string(3)).to.equal(long);
      expect(obj.int(4)).to.equal(5);
      expect(obj.int(5)).to.equal(0x12345678);
      expect(obj.int(6)).to.equal(2 ** 40);
      expect([...(obj.object(7)?.strings() ?? [])]).to.deep.equal(['one', 'two']);
      // Fields past the end are null.
      expect(obj.string(30)).to.equal(undefined);
      expect(obj.object(31)).to.equal(undefined);
      // 0xd arrays read like 0xe ones.
      const arr = new AdbPayload(rawPayload(ARR(8), [3, 0x10000001, 0x10000002]));
      expect(arr.root().int(1)).to.equal(1);
      expect(arr.root().length).to.equal(2);
    });

    it('refuses values that point outside the block, with where and what', () => {
      const cases: [Buffer, RegExp][] = [
        [
          rawPayload(OBJ(4000), []),
          /root object count at offset 4000 \(4 bytes\) runs past the end of the 8-byte ADB block/,
        ],
        [rawPayload(OBJ(8), [0x0fffffff]), /root object of 268435455 slots at offset 8 .* runs past the end/],
        [rawPayload(OBJ(8), [0]), /root object at offset 8 has count 0/],
        [rawPayload(OBJ(8), [2, 0x80000fff]), /root\.name blob length at offset 4095 .* runs past the end/],
        [
          rawPayload(OBJ(8), [2, 0x80000010, 0x000000ff]),
          /root\.name blob of 255 bytes at offset 17 .* runs past the end/,
        ],
        [rawPayload(OBJ(8), [2, 0xa0000010, 0xfffffff0]), /root\.name blob of 4294967280 bytes/],
        [rawPayload(OBJ(8), [2, 0x50000000]), /root\.name is unknown type 0x5, expected a blob/],
        [rawPayload(OBJ(8), [2, 0xe0000008]), /root\.name is object, expected a blob/],
        [rawPayload(OBJ(8), [2, 0x80000010, 0x0000fe02]), /root\.name is not valid UTF-8/],
      ];
      for (const [payload, message] of cases) {
        const error = refusal(() =>
          new AdbPayload(payload, { what: 'packages.adb' }).root().string(1, 'name'),
        );
        expect(error.message).to.match(message);
        expect(error.message.startsWith('packages.adb: ')).to.equal(true);
      }
      const u32 = rawPayload(OBJ(8), [2, 0x20000fff]);
      expect(refusal(() => new AdbPayload(u32).root().int(1, 'size')).message).to.match(
        /root\.size u32 at offset 4095/,
      );
      const bigInt = rawPayload(OBJ(8), [2, 0x30000010, 0xffffffff, 0xffffffff]);
      expect(refusal(() => new AdbPayload(bigInt).root().int(1)).message).to.contain('is too large');
      const special = rawPayload(OBJ(8), [2, 0x00000007]);
      expect(refusal(() => new AdbPayload(special).root().int(1)).message).to.contain(
        'special 7, expected an integer',
      );
      expect(refusal(() => new AdbPayload(rawPayload(0, [])).root()).message).to.contain('root is null');
    });

    it('refuses a compat version other than 0 and a block shorter than its header', () => {
      const v1 = Buffer.from(sample);
      v1[0] = 1;
      expect(refusal(() => new AdbPayload(v1)).message).to.contain('compat version 1');
      expect(refusal(() => new AdbPayload(Buffer.alloc(7))).message).to.contain('no 8-byte header');
    });

    it('bounds the work a block of shared values can cause', () => {
      // An array of 20,000 slots that all point at one 20,000-slot array: 400 million reads.
      const n = 20_000;
      const inner = 8; // payload offset of the shared array
      const outer = inner + 4 * (n + 1);
      const innerSlots = Array.from({ length: n }, () => 0x10000001);
      const outerSlots = Array.from({ length: n }, () => OBJ(inner));
      const shared = rawPayload(OBJ(outer), [n + 1, ...innerSlots, n + 1, ...outerSlots]);
      const started = Date.now();
      const error = refusal(() => {
        let sum = 0;
        for (const item of new AdbPayload(shared).root().objects()) {
          for (let i = 1; i <= item.length; i++) sum += item.int(i) ?? 0;
        }
        return sum;
      });
      expect(error.message).to.contain('units of work');
      expect(Date.now() - started).to.be.below(2000);
    });

    it('reads a whole file in one call', () => {
      const parsed = readAdbFile(adbFile(sampleContainer), { schema: ADB_SCHEMA_INDEX });
      expect(new AdbPayload(parsed.adb).root().string(1)).to.equal('a description');
    });
  });
});
