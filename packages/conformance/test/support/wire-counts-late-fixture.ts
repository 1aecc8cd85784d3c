import { ScmiMessageType, headerToken, headerType } from '@scmi-ts/core';
import type { TransportFixture } from '@scmi-ts/conformance';
import type { BrokenFixtureOptions } from './broken-fixtures.js';
import {
  decorateTransport,
  forwardTrackingInFlight,
  type SentTransfer,
} from './decorate-transport.js';
import { loopbackFixture } from './loopback-fixture.js';

/**
 * Core's in-memory loopback, as a fixture whose wire counts every late reply itself instead of
 * handing it to core: its A2P channels drop a response whose token is not that of a transfer in
 * flight (one that timed out) before core sees it, and count it in the wire's drops
 * (`droppedSignals`), as they count there a signal their RX guard refused after quiesce (instead
 * of `refusedAfterQuiesce`). Each late reply is counted once, so no count is wrong — but none
 * reaches the agent: an interleaving campaign over it never shows the late-reply race covered
 * (`lateRepliesCounted` 0, `droppedByWire` > 0), what docs/writing-a-transport.md tells a wire not
 * to do. No P2A channel (its capabilities say so), so no delayed response comes late either. With
 * `broken: false` every reply reaches core and every refusal is counted by the guard.
 */
export function wireCountsLateRepliesFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  const inner = loopbackFixture();
  return {
    ...inner,
    capabilities: { ...inner.capabilities, p2a: false },
    sameThread: async (ctx) => {
      const ends = await inner.sameThread(ctx);
      let counted = 0;
      const transport = decorateTransport(ends.transport, async (setup, open) => {
        if (!broken || setup.direction !== 'a2p') return open(setup);
        const inFlight: SentTransfer[] = [];
        const counters = new Proxy(setup.counters, {
          set: (target, key, value: unknown) => {
            if (key !== 'refusedAfterQuiesce') return Reflect.set(target, key, value);
            counted++;
            return true;
          },
        });
        const channel = await open({
          ...setup,
          counters,
          sink: {
            rx: (header, c) => {
              const late =
                headerType(header) === ScmiMessageType.COMMAND &&
                !inFlight.some((t) => headerToken(t.header) === headerToken(header));
              if (late) counted++;
              else setup.sink.rx(header, c);
            },
            badMessage: (reason) => {
              setup.sink.badMessage(reason);
            },
            failInFlight: (error) => setup.sink.failInFlight(error),
          },
        });
        return forwardTrackingInFlight(channel, inFlight);
      });
      return {
        ...ends,
        transport,
        droppedSignals: () => (ends.droppedSignals?.() ?? 0) + counted,
      };
    },
  };
}
