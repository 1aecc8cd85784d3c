import fc from 'fast-check';
import {
  PTA_SCMI_UUID,
  TeeError,
  TeeOrigin,
  TeeResult,
  formatTeeUuid,
  parseTeeUuid,
} from '../src/index.js';

describe(parseTeeUuid, () => {
  it('should parse the SCMI PTA UUID into RFC 4122 octets and format it back', () => {
    const octets = parseTeeUuid(PTA_SCMI_UUID);
    expect(Array.from(octets.subarray(0, 4))).toEqual([0xa8, 0xcf, 0xe4, 0x06]);
    expect(Array.from(octets.subarray(8))).toEqual([
      0x9f, 0x8d, 0xa2, 0x5d, 0xc7, 0x54, 0xc0, 0x99,
    ]);
    expect(formatTeeUuid(octets)).toBe(PTA_SCMI_UUID);
    expect(formatTeeUuid(parseTeeUuid(PTA_SCMI_UUID.toUpperCase()))).toBe(PTA_SCMI_UUID);
  });

  it('should round-trip any 16 octets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(Array.from(parseTeeUuid(formatTeeUuid(b)))).toEqual(Array.from(b));
      }),
    );
  });

  it.each([
    ['parseTeeUuid', 'without dashes', () => parseTeeUuid('a8cfe406d4f54a2e9f8da25dc754c099')],
    [
      'parseTeeUuid',
      'with a non-hex digit',
      () => parseTeeUuid('g8cfe406-d4f5-4a2e-9f8d-a25dc754c099'),
    ],
    ['formatTeeUuid', 'of 15 octets', () => formatTeeUuid(new Uint8Array(15))],
    ['formatTeeUuid', 'of 17 octets', () => formatTeeUuid(new Uint8Array(17))],
  ])(
    'should refuse malformed input with BAD_FORMAT from the API: %s, input %s',
    (_, _input, call) => {
      expect(call).toThrow(TeeError);
      expect(call).toThrow(
        expect.objectContaining({
          result: TeeResult.BAD_FORMAT,
          origin: TeeOrigin.API,
          code: 'TEE_ERROR_BAD_FORMAT',
        }) as Error,
      );
    },
  );

  it('should say in the error how many octets a UUID has', () => {
    expect(() => formatTeeUuid(new Uint8Array(15))).toThrow(/16 octets/);
  });
});
