import { ScmiProtocolId, scmiProtocolName } from '../src/wire/protocol-id.js';

describe(scmiProtocolName, () => {
  it('should return the lower-case name of a known protocol', () => {
    expect(scmiProtocolName(ScmiProtocolId.BASE)).toBe('base');
    expect(scmiProtocolName(0x14)).toBe('clock');
  });

  it('should return the hex id of an unknown or vendor protocol', () => {
    expect(scmiProtocolName(0x9a)).toBe('0x9a');
  });
});
