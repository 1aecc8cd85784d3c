/**
 * What `TransportChannel.clearChannel` promises a transport author, checked over core's loopback
 * (whose P2A channel is given a `clearChannel` that records its calls): core gives the P2A slot back
 * after every `sink.rx` on a P2A channel — a notification queued, and every message it drops or
 * rejects too — once, with that call's `ctx`, before `rx` returns; and never for what it did not
 * get: a signal the RX guard refused, or a `sink.rx` made before `setupChannel` resolved.
 */
import {
  ScmiMessageType,
  packHeader,
  type ChannelSetup,
  type ScmiAgent,
  type TransportChannel,
} from '@scmi-ts/core';
import { SameThreadRig, type TransportFixture } from '@scmi-ts/conformance';
import { decorateTransport, forwardChannel } from './support/decorate-transport.js';
import { loopbackFixture } from './support/loopback-fixture.js';

const CLOCK = 0x14;
const CLOCK_RATE_CHANGED = 0x0;

/** A P2A message: `header`, then `payload` words. */
function message(header: number, ...payload: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header, true);
  payload.forEach((w, i) => view.setUint32(4 + 4 * i, w, true));
  return bytes;
}

const header = (type: ScmiMessageType, protocolId: number, messageId = 0, token = 0): number =>
  packHeader({ messageId, type, protocolId, token });

/** What the P2A channel of {@link recordingFixture} saw and lets the test do. */
interface P2aProbe {
  /** The `ctx` of each `clearChannel` call, in order. */
  readonly cleared: unknown[];
  /** Each `ctx` handed to core by `sink.rx` (not those the guard refused). */
  readonly handed: unknown[];
  /** Hands `bytes` to core inside the channel's RX guard, as the loopback's receive path does. */
  deliver?: (bytes: Uint8Array) => void;
}

/**
 * Core's loopback, whose P2A channel records `clearChannel` and hands a message to core on demand
 * (`probe.deliver`); with `early`, its setup also calls `sink.rx` once before it resolves.
 */
function recordingFixture(probe: P2aProbe, early?: Uint8Array): TransportFixture {
  const inner = loopbackFixture();
  return {
    ...inner,
    sameThread: async (ctx) => {
      const ends = await inner.sameThread(ctx);
      const transport = decorateTransport(ends.transport, async (setup: ChannelSetup, open) => {
        if (setup.direction !== 'p2a') return open(setup);
        const sink = setup.sink;
        const channel = (await open({
          ...setup,
          sink: {
            rx: (h, c) => {
              probe.handed.push(c);
              sink.rx(h, c);
            },
            badMessage: (reason) => {
              sink.badMessage(reason);
            },
            failInFlight: (error) => sink.failInFlight(error),
          },
        })) as TransportChannel & { toAgent(bytes: Uint8Array): void };
        // The loopback delivers through the wire's interceptor when one is set: at once, here.
        probe.deliver = (bytes) => {
          ends.setAgentSignalInterceptor?.((d) => {
            d();
          });
          channel.toAgent(bytes);
          ends.setAgentSignalInterceptor?.(undefined);
        };
        if (early !== undefined) setup.sink.rx(readHeader(early), early);
        return forwardChannel(channel, {
          clearChannel: (c) => {
            probe.cleared.push(c);
          },
        });
      });
      return { ...ends, transport };
    },
  };
}

function readHeader(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

/** CLOCK_RATE_CHANGED registered with the agent's hub (16-byte payload), as a Clock driver does. */
function registerRateChanged(agent: ScmiAgent): void {
  agent.events.register(CLOCK, [
    {
      id: CLOCK_RATE_CHANGED,
      name: 'clock-rate-changed',
      minPayload: 16,
      maxPayload: 16,
      setNotifyEnabled: () => Promise.resolve(),
    },
  ]);
}

describe('core and TransportChannel.clearChannel', () => {
  it('should give the P2A slot back once after every sink.rx, with its ctx, whatever became of the message', async () => {
    const probe: P2aProbe = { cleared: [], handed: [] };
    const rig = await SameThreadRig.create(recordingFixture(probe));
    const agent = await rig.probe();
    registerRateChanged(agent);
    const notification = header(ScmiMessageType.NOTIFICATION, CLOCK, CLOCK_RATE_CHANGED);
    const messages = {
      queued: message(notification, 1, 0, 1000, 0),
      'too short (invalid)': message(notification, 1),
      'nobody registered (unknown)': message(header(ScmiMessageType.NOTIFICATION, 0x15)),
      'a response on P2A (invalid)': message(header(ScmiMessageType.COMMAND, CLOCK, 6, 3), 0),
      'a delayed response for no transfer (unexpected)': message(
        header(ScmiMessageType.DELAYED_RESPONSE, CLOCK, 5, 1000),
        0,
      ),
    };
    for (const bytes of Object.values(messages)) {
      const before = probe.cleared.length;
      probe.deliver?.(bytes);
      // Before `rx` returned: the slot is given back by the time the transport's call ends.
      expect(probe.cleared.length).toBe(before + 1);
      expect(probe.cleared.at(-1)).toBe(bytes);
    }
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.notifications).toBe(1);
    expect(p2a?.stats.badMessages).toMatchObject({ invalid: 2, unknown: 1, unexpected: 1 });
    await rig.clock.runUntilIdle(); // the queued notification delivered (to no handler)

    // Once the removal started, the hub discards what arrives: given back all the same.
    let discarding: Uint8Array | undefined;
    rig.onEvent = (e): void => {
      if (e.type !== 'teardown-begin') return;
      discarding = message(notification, 1, 0, 2000, 0);
      probe.deliver?.(discarding);
    };
    await agent.remove();
    rig.onEvent = undefined;
    expect(agent.diagnostics.notifications.discarded).toBe(1);
    expect(probe.cleared.at(-1)).toBe(discarding);

    // After the P2A channel quiesced its guard refuses the signal: core never got it.
    const refused = probe.cleared.length;
    probe.deliver?.(message(notification, 1, 0, 3000, 0));
    expect(rig.instrument.refusedAfterQuiesce).toBe(1);
    expect(probe.cleared.length).toBe(refused);
    expect(probe.cleared).toEqual(probe.handed);
    expect(await rig.dispose()).toEqual([]);
  });

  it('should not call it for a sink.rx made before setupChannel resolved (counted unexpected)', async () => {
    const probe: P2aProbe = { cleared: [], handed: [] };
    const early = message(header(ScmiMessageType.NOTIFICATION, CLOCK, CLOCK_RATE_CHANGED), 1);
    const rig = await SameThreadRig.create(recordingFixture(probe, early));
    const agent = await rig.probe();
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.badMessages.unexpected).toBe(1);
    expect(probe.cleared).toEqual([]);
    await agent.remove();
    expect(await rig.dispose()).toEqual([]);
  });
});
