import { optionKeys, refuseUnknownKeys } from '@scmi-ts/core';

describe(optionKeys, () => {
  it('should give every key of the record, and refuse (at compile time) a key missing or extra', () => {
    interface Section {
      readonly queueSize: number;
      readonly wire?: object;
    }
    const keys = optionKeys<Section>({ queueSize: true, wire: true });
    expect([...keys]).toEqual(['queueSize', 'wire']);
    expect(() => {
      refuseUnknownKeys({ queuesize: 4 }, keys, 'transportConfig');
    }).toThrow(/transportConfig\.queuesize/);
    // @ts-expect-error an optional key missing from the record
    optionKeys<Section>({ queueSize: true });
    // @ts-expect-error a key the interface does not have
    optionKeys<Section>({ queueSize: true, wire: true, extra: true });
  });
});
