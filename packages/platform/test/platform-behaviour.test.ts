import { ScmiConfigError } from '@scmi-ts/core';
import { resolvePlatformBehaviour, type PlatformBehaviour } from '@scmi-ts/platform';

describe(resolvePlatformBehaviour, () => {
  it('should fill in the defaults', () => {
    expect(resolvePlatformBehaviour()).toEqual({
      unknownMessage: 'not-found',
      hiddenProtocol: 'not-supported',
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
});
