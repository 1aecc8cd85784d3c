import fc from 'fast-check';
import { ScmiMalformedError } from '../src/errors/scmi-error.js';
import {
  SCMI_HEADER_RESERVED_MASK,
  SCMI_TOKEN_COUNT,
  ScmiMessageType,
  buildHeader,
  headerDefect,
  headerMessageId,
  headerProtocolId,
  headerToken,
  headerType,
  isCommandHeader,
  packHeader,
  replyHeaderDefect,
  sameCommandHeader,
  unpackHeader,
  type ScmiHeader,
} from '../src/wire/header.js';
import { codeOfError } from './support/code-of.js';

const validType = fc.constantFrom(
  ScmiMessageType.COMMAND,
  ScmiMessageType.DELAYED_RESPONSE,
  ScmiMessageType.NOTIFICATION,
);

const validHeader: fc.Arbitrary<ScmiHeader> = fc.record({
  messageId: fc.integer({ min: 0, max: 0xff }),
  type: validType,
  protocolId: fc.integer({ min: 0, max: 0xff }),
  token: fc.integer({ min: 0, max: SCMI_TOKEN_COUNT - 1 }),
});

const word32 = fc.integer({ min: 0, max: 0xffffffff });

const codeOf = codeOfError(ScmiMalformedError);

describe(packHeader, () => {
  it('should place each field in its bits (the Base PROTOCOL_VERSION example)', () => {
    expect(
      packHeader({ messageId: 0, type: ScmiMessageType.COMMAND, protocolId: 0x10, token: 5 }),
    ).toBe(0x00144000);
  });

  it('should return an unsigned word when the token sets bit 27', () => {
    const word = packHeader({ messageId: 0xff, type: 3, protocolId: 0xff, token: 0x3ff });
    expect(word).toBe(0x0fffffff);
  });

  it('should round trip through unpackHeader for every valid field combination', () => {
    fc.assert(
      fc.property(validHeader, (h) => {
        const word = packHeader(h);
        expect(word).toBeGreaterThanOrEqual(0);
        expect(word & SCMI_HEADER_RESERVED_MASK).toBe(0);
        expect(unpackHeader(word)).toEqual(h);
      }),
    );
  });

  it('should round trip every value of each field, the others random', () => {
    const ranges: [keyof ScmiHeader, number[]][] = [
      ['messageId', [...Array(0x100).keys()]],
      ['type', [0, 2, 3]],
      ['protocolId', [...Array(0x100).keys()]],
      ['token', [...Array(SCMI_TOKEN_COUNT).keys()]],
    ];
    fc.assert(
      fc.property(validHeader, (h) => {
        for (const [field, values] of ranges) {
          for (const value of values) {
            const each = { ...h, [field]: value };
            expect(unpackHeader(packHeader(each))).toEqual(each);
          }
        }
      }),
      { numRuns: 10 },
    );
  });

  it('should agree with buildHeader on valid fields', () => {
    fc.assert(
      fc.property(validHeader, (h) => {
        expect(buildHeader(h.messageId, h.type, h.protocolId, h.token)).toBe(packHeader(h));
      }),
    );
  });

  it('should throw E_FIELD_RANGE for any field that does not fit its bits', () => {
    const badNumber = fc.oneof(
      fc.integer({ min: -1_000_000, max: -1 }),
      fc.double({ noInteger: true, noDefaultInfinity: false }),
      fc.constant(Number.NaN),
    );
    const outOfRange = fc.oneof(
      fc.record({ field: fc.constant('messageId' as const), value: fc.integer({ min: 0x100 }) }),
      fc.record({ field: fc.constant('protocolId' as const), value: fc.integer({ min: 0x100 }) }),
      fc.record({ field: fc.constant('token' as const), value: fc.integer({ min: 0x400 }) }),
      fc.record({
        field: fc.constantFrom('messageId' as const, 'protocolId' as const, 'token' as const),
        value: badNumber,
      }),
      fc.record({
        field: fc.constant('type' as const),
        value: fc.oneof(fc.constant(1), fc.integer({ min: 4 }), badNumber),
      }),
    );
    fc.assert(
      fc.property(validHeader, outOfRange, (h, { field, value }) => {
        expect(codeOf(() => packHeader({ ...h, [field]: value }))).toBe('E_FIELD_RANGE');
      }),
    );
  });
});

describe(unpackHeader, () => {
  it('should throw E_HEADER for every word with a reserved bit (31:28) set', () => {
    fc.assert(
      fc.property(word32, fc.integer({ min: 1, max: 0xf }), (word, reserved) => {
        const bad = ((word & 0x0fffffff) | (reserved << 28)) >>> 0;
        expect(codeOf(() => unpackHeader(bad))).toBe('E_HEADER');
        expect(headerDefect(bad)).toBe('reserved-bits');
      }),
    );
  });

  it('should throw E_HEADER for every word of type 1', () => {
    fc.assert(
      fc.property(word32, (word) => {
        const bad = ((word & 0x0ffffcff) | (1 << 8)) >>> 0;
        expect(codeOf(() => unpackHeader(bad))).toBe('E_HEADER');
        expect(headerDefect(bad)).toBe('unknown-type');
      }),
    );
  });

  it('should accept every other 32-bit word and repack it to itself', () => {
    fc.assert(
      fc.property(word32, (word) => {
        fc.pre(headerDefect(word) === undefined);
        expect(packHeader(unpackHeader(word))).toBe(word);
      }),
    );
  });

  it('should throw E_HEADER for a value that is not a 32-bit word', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(codeOf(() => unpackHeader(bad))).toBe('E_HEADER');
    }
  });

  it('should throw an ScmiMalformedError that names the defect', () => {
    for (const [word, defect] of [
      [0x10000000, /reserved-bits/],
      [0x100, /unknown-type/],
    ] as const) {
      expect(() => unpackHeader(word)).toThrow(ScmiMalformedError);
      expect(() => unpackHeader(word)).toThrow(defect);
      expect(codeOf(() => unpackHeader(word))).toBe('E_HEADER');
    }
  });
});

describe('header field accessors', () => {
  it('should read the same fields as unpackHeader on valid words', () => {
    fc.assert(
      fc.property(validHeader, (h) => {
        const word = packHeader(h);
        expect({
          messageId: headerMessageId(word),
          type: headerType(word),
          protocolId: headerProtocolId(word),
          token: headerToken(word),
        }).toEqual(h);
      }),
    );
  });
});

describe(headerDefect, () => {
  it('should return undefined for a valid command header', () => {
    expect(headerDefect(0x00144000)).toBeUndefined();
  });
});

describe(isCommandHeader, () => {
  it('should accept a valid command header only', () => {
    const command = buildHeader(0x6, ScmiMessageType.COMMAND, 0x14, 0x2a);
    expect(isCommandHeader(command)).toBe(true);
    expect(isCommandHeader((command | (1 << 28)) >>> 0)).toBe(false); // reserved bits
    expect(isCommandHeader(command | (1 << 8))).toBe(false); // type 1
    expect(isCommandHeader(buildHeader(0x6, ScmiMessageType.DELAYED_RESPONSE, 0x14, 0x2a))).toBe(
      false,
    );
    expect(isCommandHeader(buildHeader(0x6, ScmiMessageType.NOTIFICATION, 0x14, 0))).toBe(false);
  });
});

describe(sameCommandHeader, () => {
  const command = buildHeader(0x6, ScmiMessageType.COMMAND, 0x14, 0x2a);

  it('should match on token, protocol id and message id, whatever the type and reserved bits', () => {
    expect(sameCommandHeader(command, command)).toBe(true);
    expect(sameCommandHeader(command, command | (2 << 8))).toBe(true); // a delayed response
    expect(sameCommandHeader(command, (command | (1 << 28)) >>> 0)).toBe(true);
    expect(sameCommandHeader(command, command ^ (1 << 18))).toBe(false); // another token
    expect(sameCommandHeader(command, command ^ (1 << 10))).toBe(false); // another protocol
    expect(sameCommandHeader(command, command ^ 1)).toBe(false); // another message
  });
});

describe(replyHeaderDefect, () => {
  const want = packHeader({
    messageId: 0x6,
    type: ScmiMessageType.COMMAND,
    protocolId: 0x14,
    token: 0x2a,
  });

  it('should classify a reply header against its command header as core does on the doorbell path', () => {
    expect(replyHeaderDefect(want, want)).toBeUndefined();
    expect(replyHeaderDefect(want ^ (1 << 18), want)).toBe('unexpected'); // another token
    expect(replyHeaderDefect(want ^ (1 << 8), want)).toBe('unknown'); // type 1
    expect(replyHeaderDefect(want ^ (3 << 8), want)).toBe('invalid'); // a notification
    expect(replyHeaderDefect(want ^ (1 << 10), want)).toBe('invalid'); // another protocol
    expect(replyHeaderDefect(want ^ 1, want)).toBe('invalid'); // another message
    expect(replyHeaderDefect(want | (1 << 28), want)).toBe('invalid'); // reserved bits
  });
});
