/**
 * What the OP-TEE transport's configuration checks say about a value they refuse: a bigint or a
 * circular object is an ScmiConfigError naming the field, as any other bad value — not the
 * TypeError `JSON.stringify` throws for it — and the message shows the value as given.
 */
import { ScmiConfigError } from '@scmi-ts/core';
import { OpteeTransport, OpteeWireLayout, TeeResult, parseTeeUuid } from '../src/index.js';
import { checkMsgBufferSize } from '../src/wire/pta-scmi.js';
import { CIRCULAR, circular, errorOf } from '../../core/test/support/values.js';

/** Something with every operation the configuration check looks for (none is called). */
const TEE = Object.fromEntries(
  ['openSession', 'invoke', 'submit', 'cancel', 'closeSession', 'allocSharedMemory'].map((m) => [
    m,
    (): never => {
      throw new Error(`${m} called`);
    },
  ]),
);

describe('the OP-TEE transport configuration checks, given a value JSON cannot write', () => {
  const transport = new OpteeTransport();
  const kinds = [
    ['a bigint', 1n, '1n'],
    ['a circular object', circular(), CIRCULAR],
  ] as const;

  describe.each(kinds)('such as %s', (_, value, shown) => {
    it.each<[string, () => unknown, string]>([
      [
        'busyTimeoutMs',
        () => transport.validateConfig({ tee: TEE, busyTimeoutMs: value }, 'transportConfig'),
        'transportConfig.busyTimeoutMs',
      ],
      [
        'syncWaitMs',
        () => transport.validateConfig({ tee: TEE, syncWaitMs: value }, 'transportConfig'),
        'transportConfig.syncWaitMs',
      ],
      [
        'opteeChannelId',
        () => transport.validateChannelConfig({ opteeChannelId: value }, 'a2p[0].transport'),
        'a2p[0].transport.opteeChannelId',
      ],
      [
        'shmem',
        () => transport.validateChannelConfig({ shmem: value }, 'a2p[0].transport'),
        'a2p[0].transport.shmem',
      ],
    ])('should refuse it at %s with an ScmiConfigError naming the field', (_, run, field) => {
      const error = errorOf(run);
      expect(error).toBeInstanceOf(ScmiConfigError);
      expect((error as ScmiConfigError).field).toBe(field);
      expect((error as ScmiConfigError).message.endsWith(`, got ${shown}`)).toBe(true);
    });
  });
});

describe('the other OP-TEE checks, given a bigint', () => {
  it('should refuse a UUID that is not a string with BAD_FORMAT showing it', () => {
    let error: unknown;
    try {
      parseTeeUuid(1n as unknown as string);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ result: TeeResult.BAD_FORMAT });
    expect((error as Error).message).toMatch(/not a UUID: 1n/);
  });

  it.each<[string, () => unknown, string]>([
    ['a MSG buffer size', () => checkMsgBufferSize(104n, 'msgBufferSize'), 'msgBufferSize'],
    ['a wire thread count', () => new OpteeWireLayout({ threads: 4n as never }), 'wire.threads'],
  ])('should refuse %s with an ScmiConfigError showing it', (_, run, field) => {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScmiConfigError);
    expect((error as ScmiConfigError).field).toBe(field);
    expect((error as ScmiConfigError).message).toMatch(/got (104|4)n$/);
  });
});
