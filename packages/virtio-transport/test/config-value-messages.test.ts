/**
 * What the virtio transport's configuration check says about a value it refuses: a bigint or a
 * circular object is an ScmiConfigError naming the field, as any other bad value — not the
 * TypeError `JSON.stringify` throws for it — and the message shows the value as given.
 */
import { ScmiConfigError, VirtualClock } from '@scmi-ts/core';
import {
  VirtioScmiWire,
  VirtioWireFaultInjector,
  computeWireLayout,
  virtioTransport,
} from '@scmi-ts/virtio-transport';
import { CIRCULAR, circular, errorOf } from '../../core/test/support/values.js';

describe('virtioTransport.validateConfig, given a value JSON cannot write', () => {
  const wire = VirtioScmiWire.sameThread(new VirtualClock(), { cmdqSize: 64, eventqSize: 16 });
  const kinds = [
    ['a bigint', 2n, '2n'],
    ['a circular object', circular(), CIRCULAR],
  ] as const;
  const fields = ['cmdqSize', 'eventqSize', 'handshakeTimeoutMs', 'resetTimeoutMs', 'slotWaitMs'];

  describe.each(kinds)('such as %s', (_, value, shown) => {
    it.each(fields)('should refuse it at %s with an ScmiConfigError naming the field', (key) => {
      let error: unknown;
      try {
        virtioTransport.validateConfig?.({ wire, [key]: value }, 'transportConfig');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScmiConfigError);
      expect((error as ScmiConfigError).field).toBe(`transportConfig.${key}`);
      expect((error as ScmiConfigError).message.endsWith(`, got ${shown}`)).toBe(true);
    });
  });
});

describe('the wire layout and the wire fault rules, given a bigint', () => {
  it.each(['cmdqSize', 'eventqSize', 'maxMsgSize', 'guestMemoryBytes'])(
    'should refuse it at the layout option %s with an ScmiConfigError showing 2n',
    (key) => {
      const e = errorOf(() => computeWireLayout({ [key]: 2n }));
      expect(e).toBeInstanceOf(ScmiConfigError);
      expect(e).toMatchObject({ field: key });
      expect((e as Error).message).toMatch(/got 2n$/);
    },
  );

  it('should refuse a fault rule whose id is a bigint, showing it', () => {
    const faults = new VirtioWireFaultInjector(() => 0.5);
    const e = errorOf(() => faults.add({ id: 1n, kind: 'used-id-out-of-range' } as never));
    expect(e).toBeInstanceOf(ScmiConfigError);
    expect((e as Error).message).toMatch(/got 1n$/);
    expect(faults.rules).toHaveLength(0);
  });
});
