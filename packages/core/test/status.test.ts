import fc from 'fast-check';
import { ScmiStatus, isKnownScmiStatus, scmiStatusName } from '../src/wire/status.js';

describe('ScmiStatus', () => {
  it('should carry the values of the SCMI specification (the wire reference, status codes)', () => {
    // Literal numbers: a value that drifted would otherwise go unseen wherever code and tests
    // both use the enum.
    expect({ ...ScmiStatus }).toMatchObject({
      SUCCESS: 0,
      NOT_SUPPORTED: -1,
      INVALID_PARAMETERS: -2,
      DENIED: -3,
      NOT_FOUND: -4,
      OUT_OF_RANGE: -5,
      BUSY: -6,
      COMMS_ERROR: -7,
      GENERIC_ERROR: -8,
      HARDWARE_ERROR: -9,
      PROTOCOL_ERROR: -10,
      IN_USE: -11,
    });
  });
});

describe(scmiStatusName, () => {
  it('should name every defined status code', () => {
    expect(scmiStatusName(ScmiStatus.SUCCESS)).toBe('SUCCESS');
    expect(scmiStatusName(-4)).toBe('NOT_FOUND');
    expect(scmiStatusName(ScmiStatus.IN_USE)).toBe('IN_USE');
  });

  it('should return UNKNOWN(<n>) for a value outside the table', () => {
    expect(scmiStatusName(-99)).toBe('UNKNOWN(-99)');
    expect(scmiStatusName(1)).toBe('UNKNOWN(1)');
  });

  it('should name exactly the values that isKnownScmiStatus accepts', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (status) => {
        expect(scmiStatusName(status).startsWith('UNKNOWN(')).toBe(!isKnownScmiStatus(status));
      }),
    );
  });
});

describe(isKnownScmiStatus, () => {
  it('should accept every code from SUCCESS to IN_USE', () => {
    for (let s = 0; s >= -11; s--) expect(isKnownScmiStatus(s)).toBe(true);
  });

  it('should reject positive, too negative and non-integer values', () => {
    for (const s of [1, -12, -0.5, Number.NaN]) expect(isKnownScmiStatus(s)).toBe(false);
  });
});
