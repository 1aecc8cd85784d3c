import {
  CLOCK_RATE_CHANGED,
  CLOCK_RATE_CHANGE_REQUESTED,
  ClockMessageId,
  PERFORMANCE_LEVEL_CHANGED,
  PERFORMANCE_LIMITS_CHANGED,
  POWER_STATE_CHANGED,
  POWER_STATE_CHANGE_REQUESTED,
  PerformanceMessageId,
  PowerMessageId,
  RESET_ISSUED,
  ResetMessageId,
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SensorMessageId,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
} from '../src/index.js';
import { createHarness, type Harness } from './support/harness.js';
import { NOT_FOUND, le32, never } from './support/wire-bytes.js';

/** BUSY (-6): no answer to the question; the command is left out all the same (Linux). */
const BUSY = le32(-6 >>> 0);

/** A client with the notify commands' check errors (every one of the five has it). */
interface Checked {
  readonly notifyCheckErrors: ReadonlyMap<number, unknown>;
  withCallOptions(options: { timeoutMs: number }): Checked;
}

const CASES = [
  [
    'clock',
    0x14,
    clockProtocolDriver,
    [
      [CLOCK_RATE_CHANGED, ClockMessageId.RATE_NOTIFY, 'CLOCK_RATE_NOTIFY'],
      [
        CLOCK_RATE_CHANGE_REQUESTED,
        ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
        'CLOCK_RATE_CHANGE_REQUESTED_NOTIFY',
      ],
    ],
  ],
  [
    'perf',
    0x13,
    performanceProtocolDriver,
    [
      [PERFORMANCE_LIMITS_CHANGED, PerformanceMessageId.NOTIFY_LIMITS, 'PERFORMANCE_NOTIFY_LIMITS'],
      [PERFORMANCE_LEVEL_CHANGED, PerformanceMessageId.NOTIFY_LEVEL, 'PERFORMANCE_NOTIFY_LEVEL'],
    ],
  ],
  [
    'power',
    0x11,
    powerProtocolDriver,
    [
      [POWER_STATE_CHANGED, PowerMessageId.STATE_NOTIFY, 'POWER_STATE_NOTIFY'],
      [
        POWER_STATE_CHANGE_REQUESTED,
        PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
        'POWER_STATE_CHANGE_REQUESTED_NOTIFY',
      ],
    ],
  ],
  ['reset', 0x16, resetProtocolDriver, [[RESET_ISSUED, ResetMessageId.NOTIFY, 'RESET_NOTIFY']]],
  [
    'sensor',
    0x15,
    sensorProtocolDriver,
    [
      [SENSOR_TRIP_POINT_EVENT, SensorMessageId.TRIP_POINT_NOTIFY, 'SENSOR_TRIP_POINT_NOTIFY'],
      [SENSOR_UPDATE, SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, 'SENSOR_CONTINUOUS_UPDATE_NOTIFY'],
    ],
  ],
] as const;

describe('the notify commands whose check at init failed', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('keeps one failed check with its own event: the other event subscribes', async () => {
    h = createHarness({
      drivers: [clockProtocolDriver],
      // The first PROTOCOL_MESSAGE_ATTRIBUTES at init, CLOCK_RATE_NOTIFY's, answered BUSY.
      platformFaults: [
        {
          match: { protocolId: 0x14, messageId: 0x2, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: BUSY },
        },
      ],
    });
    const agent = await h.create();
    const clock = agent.protocol(clockProtocolDriver);
    expect([...clock.notifyCheckErrors.keys()]).toEqual([ClockMessageId.RATE_NOTIFY]);
    await expect(
      agent.events.subscribe({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGED, source: 0 }, never),
    ).rejects.toMatchObject({
      message: expect.stringContaining('CLOCK_RATE_NOTIFY is left out') as unknown,
      cause: clock.notifyCheckErrors.get(ClockMessageId.RATE_NOTIFY),
    });
    const off = await clock.onRateChangeRequested(never, { source: 0 });
    await off();
    await agent.remove();
  });

  describe.each(CASES)('%s', (name, protocolId, driver, events) => {
    it('keeps each check error and names it when it refuses a subscription, sending nothing', async () => {
      h = createHarness({
        drivers: [driver],
        // Every PROTOCOL_MESSAGE_ATTRIBUTES of the protocol answered BUSY.
        platformFaults: [
          {
            match: { protocolId, messageId: 0x2 },
            action: { kind: 'corrupt-bytes', offset: 4, bytes: BUSY },
          },
        ],
      });
      const agent = await h.create();
      const client = agent.protocolApi(protocolId) as Checked;
      expect([...client.notifyCheckErrors.keys()].sort()).toEqual(
        events.map(([, messageId]) => messageId).sort(),
      );
      const requests = h.platform.counters.requests;
      for (const [eventId, messageId, command] of events) {
        const cause = client.notifyCheckErrors.get(messageId);
        expect(cause).toMatchObject({
          status: -6,
          message: expect.stringContaining(
            `${name} message 0x2 PROTOCOL_MESSAGE_ATTRIBUTES`,
          ) as unknown,
        });
        const why = `${command} is left out: its check at init failed (${(cause as Error).message})`;
        // One source, and every source.
        await expect(
          agent.events.subscribe({ protocolId, eventId, source: 0 }, never),
        ).rejects.toMatchObject({
          code: 'E_NOT_SUPPORTED',
          message: `domain 0 does not announce this notification; ${why}`,
          cause,
        });
        await expect(agent.events.subscribe({ protocolId, eventId }, never)).rejects.toMatchObject({
          code: 'E_NOT_SUPPORTED',
          message: `no domain announces this notification; ${why}`,
          cause,
        });
      }
      expect(h.platform.counters.requests).toBe(requests);
      // A view shares them.
      expect(client.withCallOptions({ timeoutMs: 50 }).notifyCheckErrors).toBe(
        client.notifyCheckErrors,
      );
      await agent.remove();
    });

    it('keeps none when the platform answered (NOT_FOUND included), and refuses as before', async () => {
      h = createHarness({
        drivers: [driver],
        platformFaults: [
          {
            match: { protocolId, messageId: 0x2 },
            action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND },
          },
        ],
      });
      const agent = await h.create();
      const client = agent.protocolApi(protocolId) as Checked;
      expect(client.notifyCheckErrors.size).toBe(0);
      const [eventId] = events[0];
      await expect(
        agent.events.subscribe({ protocolId, eventId, source: 0 }, never),
      ).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
        message: 'domain 0 does not announce this notification',
      });
      await agent.remove();
    });
  });
});
