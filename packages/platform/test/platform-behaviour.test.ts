import { ScmiConfigError } from '@scmi-ts/core';
import { resolvePlatformBehaviour, type PlatformBehaviour } from '@scmi-ts/platform';

describe(resolvePlatformBehaviour, () => {
  it('should fill in the defaults', () => {
    expect(resolvePlatformBehaviour()).toEqual({
      unknownMessage: 'not-found',
      hiddenProtocol: 'not-supported',
      unknownDomain: 'not-found',
      asyncLatencyMs: 1,
      postRetryMs: 1,
      maxPostRetries: 20,
      multiPartMax: Number.MAX_SAFE_INTEGER,
      maxPendingAsync: 8,
      sensorPollMs: 10,
      versionNegotiation: true,
    });
  });

  it.each([
    ['unknownMessage', { unknownMessage: 'maybe' }],
    ['hiddenProtocol', { hiddenProtocol: 'hidden' }],
    ['unknownDomain', { unknownDomain: 'not-supported' }],
    ['asyncLatencyMs', { asyncLatencyMs: Number.NaN }],
    ['asyncLatencyMs', { asyncLatencyMs: 2 ** 31 }],
    ['postRetryMs', { postRetryMs: 2 ** 31 }],
    ['sensorPollMs', { sensorPollMs: 2 ** 31 }],
    ['postRetryMs', { postRetryMs: -1 }],
    ['maxPostRetries', { maxPostRetries: 1.5 }],
    ['multiPartMax', { multiPartMax: 0 }],
    ['maxPendingAsync', { maxPendingAsync: 256 }],
    ['sensorPollMs', { sensorPollMs: 0 }],
    ['versionNegotiation', { versionNegotiation: 'yes' }],
    // Only an absent field takes the default, as in the platform configuration: null is refused.
    ['asyncLatencyMs', { asyncLatencyMs: null }],
    ['unknownMessage', { unknownMessage: null }],
    ['hiddenProtocol', { hiddenProtocol: null }],
    ['unknownDomain', { unknownDomain: null }],
    ['postRetryMs', { postRetryMs: null }],
    ['maxPostRetries', { maxPostRetries: null }],
    ['multiPartMax', { multiPartMax: null }],
    ['maxPendingAsync', { maxPendingAsync: null }],
    ['sensorPollMs', { sensorPollMs: null }],
    ['versionNegotiation', { versionNegotiation: null }],
    ['maxPostRetries', { maxPostRetries: '3' }],
    // Unknown fields are refused, as in the platform configuration: a typo must not pass silently.
    ['unknownMesage', { unknownMesage: 'not-supported' }],
    ['asyncLatency', { asyncLatency: 5 }],
  ])('should name behaviour.%s when it is invalid', (field, behaviour) => {
    let error: unknown;
    try {
      resolvePlatformBehaviour(behaviour as PlatformBehaviour);
    } catch (e) {
      error = e;
    }
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe(`behaviour.${field}`);
  });

  it('should say that an unknown field is not known', () => {
    expect(() =>
      resolvePlatformBehaviour({ unknownMesage: 'not-supported' } as PlatformBehaviour),
    ).toThrow(/behaviour\.unknownMesage: is not a known field/);
  });

  it.each([null, 5, ['not-supported']])('should name behaviour when it is %p', (behaviour) => {
    expect(() => resolvePlatformBehaviour(behaviour as PlatformBehaviour)).toThrow(
      expect.objectContaining({ field: 'behaviour' }) as Error,
    );
  });

  it('should say that null is not the default', () => {
    expect(() => resolvePlatformBehaviour({ asyncLatencyMs: null } as never)).toThrow(
      /behaviour\.asyncLatencyMs: must be a number in 0 … \d+, got null/,
    );
  });

  it('should take the defaults for fields given as undefined', () => {
    expect(
      resolvePlatformBehaviour({ asyncLatencyMs: undefined, unknownMessage: undefined } as never),
    ).toEqual(resolvePlatformBehaviour());
  });

  it('should accept every declared field, and a resolved behaviour', () => {
    const resolved = resolvePlatformBehaviour({ unknownMessage: 'not-supported', multiPartMax: 3 });
    expect(resolvePlatformBehaviour(resolved)).toEqual(resolved);
  });
});
