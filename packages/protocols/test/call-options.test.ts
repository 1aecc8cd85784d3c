import {
  ScmiTimeoutError,
  type CallOptions,
  type ProtocolDriver,
  type ScmiAgent,
} from '@scmi-ts/core';
import type { FaultRule } from '@scmi-ts/platform';
import {
  ClockMessageId,
  PerformanceMessageId,
  PowerMessageId,
  ResetMessageId,
  SensorMessageId,
  SystemPowerMessageId,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
  type ClockProtocol,
} from '../src/index.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

/** A client as these tests use it: its view, and one command's call. */
interface Client {
  withCallOptions(options: CallOptions): Client;
}

/** One client of each protocol, with a command it sends and how to call it. */
const CLIENTS: readonly {
  readonly name: string;
  readonly driver: ProtocolDriver;
  readonly protocolId: number;
  readonly messageId: number;
  readonly call: (client: never) => Promise<unknown>;
}[] = [
  {
    name: 'Base',
    driver: clockProtocolDriver, // Base is the agent's own; any driver will do
    protocolId: 0x10,
    messageId: 0x3, // DISCOVER_VENDOR
    call: (base: ScmiAgent['base']) => base.discoverVendor(),
  },
  {
    name: 'Clock',
    driver: clockProtocolDriver,
    protocolId: 0x14,
    messageId: ClockMessageId.RATE_GET,
    call: (clock: ClockProtocol) => clock.getRate(0),
  },
  {
    name: 'Performance',
    driver: performanceProtocolDriver,
    protocolId: 0x13,
    messageId: PerformanceMessageId.LEVEL_GET,
    call: (perf: { getLevel(id: number): Promise<number> }) => perf.getLevel(0),
  },
  {
    name: 'Power',
    driver: powerProtocolDriver,
    protocolId: 0x11,
    messageId: PowerMessageId.STATE_GET,
    call: (power: { getState(id: number): Promise<number> }) => power.getState(0),
  },
  {
    name: 'Reset',
    driver: resetProtocolDriver,
    protocolId: 0x16,
    messageId: ResetMessageId.RESET,
    call: (reset: { reset(id: number, o: { async: boolean }): Promise<void> }) =>
      reset.reset(1, { async: false }),
  },
  {
    name: 'Sensor',
    driver: sensorProtocolDriver,
    protocolId: 0x15,
    messageId: SensorMessageId.READING_GET,
    call: (sensor: { readValue(id: number): Promise<bigint> }) => sensor.readValue(0),
  },
  {
    name: 'System Power',
    driver: systemPowerProtocolDriver,
    protocolId: 0x12,
    messageId: SystemPowerMessageId.STATE_GET,
    call: (systemPower: { getState(): Promise<number> }) => systemPower.getState(),
  },
];

describe("protocol clients' withCallOptions", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    driver: ProtocolDriver,
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent }> {
    h = createHarness({ drivers: [driver], ...options });
    return { h, agent: await h.create() }; // the agent's rxTimeoutMs: 30 ms
  }

  function clientOf(agent: ScmiAgent, entry: (typeof CLIENTS)[number]): Client {
    return (entry.protocolId === 0x10 ? agent.base : agent.protocol(entry.driver)) as Client;
  }

  describe.each(CLIENTS)('$name', (entry) => {
    const call = entry.call as (client: Client) => Promise<unknown>;
    const slow = (ms: number): FaultRule => ({
      match: { protocolId: entry.protocolId, messageId: entry.messageId },
      action: { kind: 'delay', ms },
    });

    it("bounds its commands by the view's timeoutMs, the client's own keeping the agent's", async () => {
      const { h, agent } = await probe(entry.driver);
      const client = clientOf(agent, entry);
      h.platform.faults.add(slow(20));
      const e: unknown = await call(client.withCallOptions({ timeoutMs: 5 })).catch(
        (error: unknown) => error,
      );
      expect(e).toBeInstanceOf(ScmiTimeoutError);
      expect(e).toMatchObject({ timeoutMs: 5, phase: 'response' });
      // 20 ms is well within the agent's own timeout: the client itself is unchanged.
      await expect(call(client)).resolves.not.toBeInstanceOf(Error);
    });

    it('gives its commands up when the signal fires, and sends nothing once it has', async () => {
      const { h, agent } = await probe(entry.driver);
      const client = clientOf(agent, entry);
      h.platform.faults.add(slow(20));
      const abort = new AbortController();
      const view = client.withCallOptions({ signal: abort.signal });
      const pending = call(view).catch((error: unknown) => error);
      await h.clock.advance(2);
      const reason = new Error('operator gave up');
      abort.abort(reason);
      expect(await pending).toBe(reason);
      const requests = h.platform.counters.requests;
      await expect(call(view)).rejects.toBe(reason);
      expect(h.platform.counters.requests).toBe(requests);
    });

    it('refuses bad options with E_ARGUMENT', async () => {
      const { agent } = await probe(entry.driver);
      const client = clientOf(agent, entry);
      let thrown: unknown;
      try {
        client.withCallOptions({ timeoutMs: -1 });
      } catch (error: unknown) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'E_ARGUMENT', message: /timeoutMs must be a positive/ });
      expect(() => client.withCallOptions({ signall: 1 } as CallOptions)).toThrow(
        /unknown option "signall"/,
      );
    });
  });

  it("counts the Clock view's rate sets with the client's against the pending asynchronous changes", async () => {
    const { agent } = await probe(clockProtocolDriver, {
      platformFaults: [
        // PROTOCOL_ATTRIBUTES: 4 clocks, 2 pending asynchronous rate changes.
        {
          match: { protocolId: 0x14, messageId: 0x1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [4, 0, 2, 0] },
        },
      ],
    });
    const clock = agent.protocol(clockProtocolDriver);
    expect(clock.maxPendingAsyncRateChanges).toBe(2);
    const view = clock.withCallOptions({ timeoutMs: 25 });
    // The view's set makes 1 in flight (< 2): asynchronous; the client's makes 2: synchronous.
    const results = await Promise.all([
      view.setRate(0, 1_300_000_000n),
      clock.setRate(1, 48_000_000n),
    ]);
    expect(results.map((r) => r.async)).toEqual([true, false]);
    expect(view.domains).toBe(clock.domains);
  });
});
