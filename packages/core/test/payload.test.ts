import fc from 'fast-check';
import { ScmiMalformedError } from '../src/errors/scmi-error.js';
import { PayloadReader, PayloadWriter, decodeAsciiz } from '../src/wire/payload.js';
import { codeOfError } from './support/code-of.js';

/** The code of the ScmiMalformedError `fn` throws, or undefined when it returns. */
const codeOf = codeOfError(ScmiMalformedError);

type ReadOp =
  | { op: 'u8' | 'u16' | 'u32' | 'i32' | 'u64' }
  | { op: 'bytes' | 'string' | 'skip' | 'need'; n: number };

const sizeArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0.5, Number.NaN, 1e9) },
);

const readOpArb: fc.Arbitrary<ReadOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('u8' as const, 'u16' as const, 'u32' as const) }),
  fc.record({ op: fc.constantFrom('i32' as const, 'u64' as const) }),
  fc.record({
    op: fc.constantFrom('bytes' as const, 'string' as const, 'skip' as const, 'need' as const),
    n: sizeArb,
  }),
);

const WIDTH: Record<'u8' | 'u16' | 'u32' | 'i32' | 'u64', number> = {
  u8: 1,
  u16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
};

/** Little-endian reference decoding straight from the byte array. */
function le(bytes: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] as number);
  return v;
}

function expected(bytes: Uint8Array, at: number, op: ReadOp): unknown {
  switch (op.op) {
    case 'u8':
    case 'u16':
    case 'u32':
      return Number(le(bytes, at, WIDTH[op.op]));
    case 'i32':
      return Number(BigInt.asIntN(32, le(bytes, at, 4)));
    case 'u64':
      return le(bytes, at, 8);
    case 'bytes':
      return Uint8Array.from(bytes.subarray(at, at + op.n));
    case 'string': {
      // At most n − 1 characters (Linux strscpy into an n-byte buffer).
      const field = bytes.subarray(at, at + Math.max(0, op.n - 1));
      const end = field.indexOf(0);
      return String.fromCharCode(...field.subarray(0, end < 0 ? field.length : end));
    }
    case 'skip':
    case 'need':
      return undefined;
  }
}

function apply(r: PayloadReader, op: ReadOp): unknown {
  switch (op.op) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'i32':
    case 'u64':
      return r[op.op]();
    case 'bytes':
      return Uint8Array.from(r.bytes(op.n));
    case 'string':
      return r.string(op.n);
    case 'skip':
      r.skip(op.n);
      return undefined;
    case 'need':
      r.need(op.n);
      return undefined;
  }
}

function widthOf(op: ReadOp): number {
  return 'n' in op ? op.n : WIDTH[op.op];
}

describe(PayloadReader, () => {
  describe('having random bytes and a random sequence of reads', () => {
    it('should read exactly the bytes of its view, and throw E_TRUNCATED on every over-read without moving', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 40 }),
          fc.nat(8),
          fc.nat(8),
          fc.array(readOpArb, { maxLength: 30 }),
          (payload, before, after, ops) => {
            // The payload is a view in the middle of a larger buffer, fenced by 0xee bytes that
            // must never be read.
            const backing = new Uint8Array(before + payload.length + after).fill(0xee);
            backing.set(payload, before);
            const view = backing.subarray(before, before + payload.length);
            const r = new PayloadReader(view);
            let pos = 0;
            for (const op of ops) {
              const n = widthOf(op);
              const fits = Number.isInteger(n) && n >= 0 && pos + n <= payload.length;
              if (fits) {
                expect(apply(r, op)).toEqual(expected(payload, pos, op));
                if (op.op !== 'need') pos += n;
              } else {
                expect(codeOf(() => apply(r, op))).toBe('E_TRUNCATED');
              }
              expect(r.offset).toBe(pos);
              expect(r.remaining).toBe(payload.length - pos);
            }
          },
        ),
      );
    });
  });

  describe('.bytes', () => {
    it('should return a view of the payload, not a copy', () => {
      const payload = new Uint8Array([1, 2, 3, 4]);
      const v = new PayloadReader(payload).bytes(2);
      payload[0] = 9;
      expect(v[0]).toBe(9);
    });
  });

  describe('.u64', () => {
    it('should read the low word first', () => {
      const r = new PayloadReader(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]));
      expect(r.u64()).toBe(0x0000000200000001n);
    });

    it('should throw E_TRUNCATED and consume nothing when only the low word is there', () => {
      const r = new PayloadReader(new Uint8Array([1, 0, 0, 0, 2, 0, 0]));
      expect(codeOf(() => r.u64())).toBe('E_TRUNCATED');
      expect(r.offset).toBe(0);
      expect(r.u32()).toBe(1);
    });
  });

  describe('.string', () => {
    it('should stop at the first NUL of a fixed-size field and consume the whole field', () => {
      const field = new Uint8Array(16);
      field.set(Buffer.from('clk0\0junk'));
      const r = new PayloadReader(field);
      expect(r.string(16)).toBe('clk0');
      expect(r.remaining).toBe(0);
    });

    it('should keep n − 1 characters of a field with no NUL, as Linux strscpy, and consume it all', () => {
      const r = new PayloadReader(Buffer.from('ABCDEFGHIJKLMNOPQ'));
      expect(r.string(16)).toBe('ABCDEFGHIJKLMNO');
      expect(r.remaining).toBe(1);
      expect(new PayloadReader(Buffer.from('abcd')).string(4)).toBe('abc');
      expect(new PayloadReader(Buffer.from('abc\0')).string(4)).toBe('abc');
    });

    it('should read each byte as one character: a byte above 0x7F is kept, not replaced or merged', () => {
      // 0xE9 alone is not UTF-8 (a decoder gives U+FFFD); 0xC3 0xA9 is, and would merge into 'é'.
      const r = new PayloadReader(Uint8Array.of(0x41, 0xe9, 0xc3, 0xa9, 0xff, 0, 0, 0));
      const name = r.string(8);
      expect(Array.from({ length: name.length }, (_, i) => name.charCodeAt(i))).toEqual([
        0x41, 0xe9, 0xc3, 0xa9, 0xff,
      ]);
    });

    it('should throw E_TRUNCATED for a field shorter than n, without moving', () => {
      const r = new PayloadReader(Buffer.from('vendor'));
      expect(codeOf(() => r.string(16))).toBe('E_TRUNCATED');
      expect(r.offset).toBe(0);
    });
  });

  describe('.need', () => {
    it('should name the field and the offset in its message', () => {
      const r = new PayloadReader(new Uint8Array(2));
      expect(() => {
        r.need(4, 'attributes');
      }).toThrow('payload truncated: attributes needs 4 byte(s) at offset 0, 2 left');
    });
  });
});

type WriteOp =
  | { op: 'u8' | 'u16' | 'u32' | 'i32'; v: number }
  | { op: 'u64'; v: bigint }
  | { op: 'bytes'; v: Uint8Array }
  | { op: 'string'; v: string; n: number };

const writeOpArb: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.record({ op: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ op: fc.constant('u16' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ op: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({
    op: fc.constant('i32' as const),
    v: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  }),
  fc.record({ op: fc.constant('u64' as const), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ op: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({
    op: fc.constant('string' as const),
    // Every one-byte character but NUL: bytes above 0x7F round-trip too.
    v: fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)) }),
    n: fc.integer({ min: 1, max: 16 }),
  }),
);

function writeSize(op: WriteOp): number {
  switch (op.op) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
    case 'i32':
      return 4;
    case 'u64':
      return 8;
    case 'bytes':
      return op.v.length;
    case 'string':
      return op.n;
  }
}

function write(w: PayloadWriter, op: WriteOp): void {
  switch (op.op) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'i32':
      w[op.op](op.v);
      return;
    case 'u64':
      w.u64(op.v);
      return;
    case 'bytes':
      w.bytes(op.v);
      return;
    case 'string':
      w.string(op.v, op.n);
      return;
  }
}

function readBack(r: PayloadReader, op: WriteOp): unknown {
  switch (op.op) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'i32':
    case 'u64':
      return r[op.op]();
    case 'bytes':
      return Uint8Array.from(r.bytes(op.v.length));
    case 'string':
      return r.string(op.n);
  }
}

function written(op: WriteOp): unknown {
  switch (op.op) {
    case 'bytes':
      return Uint8Array.from(op.v);
    case 'string':
      return op.v.slice(0, op.n - 1);
    default:
      return op.v;
  }
}

describe(PayloadWriter, () => {
  describe('having a random sequence of writes into a fixed capacity', () => {
    it('should read back what fits and throw E_OVERFLOW, writing nothing, for what does not', () => {
      fc.assert(
        fc.property(fc.nat(48), fc.array(writeOpArb, { maxLength: 20 }), (capacity, ops) => {
          const w = new PayloadWriter(capacity);
          const kept: WriteOp[] = [];
          for (const op of ops) {
            const before = Uint8Array.from(w.bytesWritten());
            if (w.length + writeSize(op) <= capacity) {
              write(w, op);
              kept.push(op);
            } else {
              expect(
                codeOf(() => {
                  write(w, op);
                }),
              ).toBe('E_OVERFLOW');
              expect(w.bytesWritten()).toEqual(before);
            }
          }
          const r = new PayloadReader(w.bytesWritten());
          for (const op of kept) expect(readBack(r, op)).toEqual(written(op));
          expect(r.remaining).toBe(0);
        }),
      );
    });
  });

  describe('.u64', () => {
    it('should round trip every 64-bit value through PayloadReader.u64', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
          const bytes = new PayloadWriter(8).u64(v).bytesWritten();
          expect(new PayloadReader(bytes).u64()).toBe(v);
        }),
      );
    });

    it('should take numbers and negative values modulo 2^64', () => {
      const r = new PayloadReader(new PayloadWriter(16).u64(5).u64(-1n).bytesWritten());
      expect(r.u64()).toBe(5n);
      expect(r.u64()).toBe(2n ** 64n - 1n);
    });

    it('should throw E_OVERFLOW and write nothing when only the low word fits', () => {
      const w = new PayloadWriter(4);
      expect(codeOf(() => w.u64(1n))).toBe('E_OVERFLOW');
      expect(w.length).toBe(0);
    });
  });

  describe('.u32', () => {
    it('should take values modulo 2^32', () => {
      expect(new PayloadReader(new PayloadWriter(4).u32(-1).bytesWritten()).u32()).toBe(0xffffffff);
    });
  });

  describe('.string', () => {
    it('should write a NUL-padded field of exactly n bytes', () => {
      const w = new PayloadWriter(new Uint8Array(8).fill(0xaa));
      w.string('ab', 6);
      expect([...w.bytesWritten()]).toEqual([0x61, 0x62, 0, 0, 0, 0]);
    });

    it('should truncate to n - 1 bytes so that the field always ends with NUL', () => {
      const bytes = new PayloadWriter(4).string('abcdef', 4).bytesWritten();
      expect([...bytes]).toEqual([0x61, 0x62, 0x63, 0]);
      expect(decodeAsciiz(bytes)).toBe('abc');
    });

    it('should throw E_FIELD_RANGE for a character that is not one byte, and write nothing', () => {
      const w = new PayloadWriter(new Uint8Array(8).fill(0xaa));
      w.u8(1);
      expect(codeOf(() => w.string('ab\u20ac', 6))).toBe('E_FIELD_RANGE');
      expect([...w.bytesWritten()]).toEqual([1]);
      expect(w.length).toBe(1);
      // Past the n − 1 characters written, a character is not looked at: it is cut anyway.
      w.string('abc\u20ac', 4);
      expect([...w.bytesWritten()]).toEqual([1, 0x61, 0x62, 0x63, 0]);
    });

    it('should throw E_FIELD_RANGE for a field size that cannot hold the NUL, and write nothing', () => {
      for (const n of [0, -1, 1.5, Number.NaN]) {
        const w = new PayloadWriter(new Uint8Array(8).fill(0xaa));
        w.u8(1);
        expect(codeOf(() => w.string('hello', n))).toBe('E_FIELD_RANGE');
        expect(w.length).toBe(1);
        expect([...w.bytesWritten()]).toEqual([1]);
      }
    });
  });

  describe('constructor', () => {
    it('should write into the given view only', () => {
      const backing = new Uint8Array(8);
      const w = new PayloadWriter(backing.subarray(2, 6));
      w.u32(0x04030201);
      expect([...backing]).toEqual([0, 0, 1, 2, 3, 4, 0, 0]);
      expect(codeOf(() => w.u8(0))).toBe('E_OVERFLOW');
    });
  });
});

describe(decodeAsciiz, () => {
  it('should ignore everything after the first NUL', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)) }),
        fc.uint8Array(),
        (s, tail) => {
          const bytes = Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0]), tail]);
          expect(decodeAsciiz(bytes)).toBe(s);
        },
      ),
    );
  });

  it('should decode a view at its own offset', () => {
    const backing = Buffer.from('xxabc\0yy');
    expect(decodeAsciiz(backing.subarray(2))).toBe('abc');
  });
});
