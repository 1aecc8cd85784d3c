import { ScmiError, optionKeys, refuseUnknownKeys, unknownKeyError } from '@scmi-ts/core';

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

describe(unknownKeyError, () => {
  const keys = new Set(['timeoutMs', 'signal']);

  it('should name the first unknown key of a call argument with E_ARGUMENT, listing the expected ones', () => {
    const e = unknownKeyError({ signal: undefined, timeoutMS: 5, other: 1 }, keys, 'scmi0: view');
    expect(e).toBeInstanceOf(ScmiError);
    expect(e).toMatchObject({
      code: 'E_ARGUMENT',
      message: 'scmi0: view: unknown option "timeoutMS" (expected one of timeoutMs, signal)',
    });
    expect(unknownKeyError({ sorce: 0 }, keys, 'subscribe', 'filter key')?.message).toBe(
      'subscribe: unknown filter key "sorce" (expected one of timeoutMs, signal)',
    );
  });

  it('should give undefined when every key is known, an undefined value included', () => {
    expect(unknownKeyError({ timeoutMs: undefined, signal: undefined }, keys, 'x')).toBeUndefined();
    expect(unknownKeyError({}, keys, 'x')).toBeUndefined();
  });
});
