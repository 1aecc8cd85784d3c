import fc from 'fast-check';
import { ScmiMalformedError } from '../src/errors/scmi-error.js';
import { ScmiMessageType, headerDefect, packHeader, type ScmiHeader } from '../src/wire/header.js';
import {
  MSG_HEADER_SIZE,
  MSG_STATUS_SIZE,
  decodeMsg,
  decodeMsgResponse,
  encodeMsg,
  encodeMsgResponse,
  readI32,
  readU32,
  writeU32,
} from '../src/wire/msg-layout.js';
import { ScmiStatus } from '../src/wire/status.js';
import { codeOfError } from './support/code-of.js';

const headerArb: fc.Arbitrary<ScmiHeader> = fc.record({
  messageId: fc.integer({ min: 0, max: 0xff }),
  type: fc.constantFrom(0, 2, 3),
  protocolId: fc.integer({ min: 0, max: 0xff }),
  token: fc.integer({ min: 0, max: 0x3ff }),
});

const statusArb = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

const codeOf = codeOfError(ScmiMalformedError);

describe(encodeMsg, () => {
  it('should write the header little-endian, then the payload', () => {
    const header = packHeader({ messageId: 1, type: 0, protocolId: 0x10, token: 0 });
    expect([...encodeMsg(header, new Uint8Array([0xaa, 0xbb]))]).toEqual([
      0x01, 0x40, 0x00, 0x00, 0xaa, 0xbb,
    ]);
  });

  it('should encode a header alone when there is no payload', () => {
    expect(encodeMsg(0x00144000).byteLength).toBe(MSG_HEADER_SIZE);
  });
});

describe(decodeMsg, () => {
  it('should round trip encodeMsg for every valid header and payload', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), (h, payload) => {
        const word = packHeader(h);
        const msg = decodeMsg(encodeMsg(word, payload));
        expect(msg.headerWord).toBe(word);
        expect(msg.header).toEqual(h);
        expect(Uint8Array.from(msg.payload)).toEqual(payload);
      }),
    );
  });

  it('should return the payload as a view of the input', () => {
    const bytes = encodeMsg(0x00144000, new Uint8Array([1, 2]));
    const { payload } = decodeMsg(bytes);
    bytes[4] = 7;
    expect(payload[0]).toBe(7);
  });

  it('should decode a message that is a view into a larger buffer', () => {
    const backing = new Uint8Array(12).fill(0xff);
    backing.set(encodeMsg(0x00144000, new Uint8Array([9])), 3);
    const msg = decodeMsg(backing.subarray(3, 8));
    expect(msg.headerWord).toBe(0x00144000);
    expect([...msg.payload]).toEqual([9]);
  });

  it('should throw E_TRUNCATED for every input shorter than a header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MSG_HEADER_SIZE - 1 }), (bytes) => {
        expect(codeOf(() => decodeMsg(bytes))).toBe('E_TRUNCATED');
      }),
    );
  });

  it('should throw E_HEADER for every invalid header word, and decode every valid one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array(), (word, payload) => {
        const decode = (): unknown => decodeMsg(encodeMsg(word, payload));
        expect(codeOf(decode)).toBe(headerDefect(word) === undefined ? undefined : 'E_HEADER');
      }),
    );
  });
});

describe(encodeMsgResponse, () => {
  it('should write header, then the status as a signed word, then the return values', () => {
    const bytes = encodeMsgResponse(0x00144000, ScmiStatus.NOT_FOUND, new Uint8Array([5]));
    expect([...bytes]).toEqual([0x00, 0x40, 0x14, 0x00, 0xfc, 0xff, 0xff, 0xff, 5]);
  });

  it('should write any 32-bit header and status little-endian, as a DataView does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), statusArb, (header, status) => {
        const expected = new Uint8Array(8);
        const view = new DataView(expected.buffer);
        view.setUint32(0, header, true);
        view.setInt32(4, status, true);
        expect([...encodeMsgResponse(header, status)]).toEqual([...expected]);
      }),
    );
  });
});

describe(decodeMsgResponse, () => {
  it('should round trip encodeMsgResponse for every header, status and return values', () => {
    fc.assert(
      fc.property(headerArb, statusArb, fc.uint8Array({ maxLength: 64 }), (h, status, returns) => {
        const word = packHeader(h);
        const bytes = encodeMsgResponse(word, status, returns);
        const r = decodeMsgResponse(bytes);
        expect(r.headerWord).toBe(word);
        expect(r.header).toEqual(h);
        expect(r.status).toBe(status);
        expect(Uint8Array.from(r.returns)).toEqual(returns);
        expect(r.payload.byteLength).toBe(MSG_STATUS_SIZE + returns.byteLength);
      }),
    );
  });

  it('should throw E_TRUNCATED for every input shorter than a header and a status', () => {
    fc.assert(
      fc.property(
        headerArb,
        fc.integer({ min: 0, max: MSG_HEADER_SIZE + MSG_STATUS_SIZE - 1 }),
        (h, length) => {
          const full = encodeMsgResponse(packHeader(h), ScmiStatus.SUCCESS);
          expect(codeOf(() => decodeMsgResponse(full.subarray(0, length)))).toBe('E_TRUNCATED');
        },
      ),
    );
  });

  it('should decode every truncation of a longer response to a prefix of its return values', () => {
    fc.assert(
      fc.property(
        headerArb,
        statusArb,
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        (h, s, rv) => {
          const full = encodeMsgResponse(
            packHeader({ ...h, type: ScmiMessageType.COMMAND }),
            s,
            rv,
          );
          for (let length = MSG_HEADER_SIZE + MSG_STATUS_SIZE; length <= full.length; length++) {
            const r = decodeMsgResponse(full.subarray(0, length));
            expect(r.status).toBe(s);
            expect(Uint8Array.from(r.returns)).toEqual(rv.subarray(0, length - 8));
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe(readU32, () => {
  it('should agree with writeU32 and readI32 for every 32-bit value at any offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(4), (v, offset) => {
        const bytes = new Uint8Array(offset + 4);
        writeU32(bytes, offset, v);
        expect(readU32(bytes, offset)).toBe(v);
        expect(readI32(bytes, offset)).toBe(v | 0);
        expect(new DataView(bytes.buffer).getUint32(offset, true)).toBe(v);
      }),
    );
  });
});
