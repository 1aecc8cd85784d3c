import { RevokedError, ScmiShutdownError, type ScmiNotification } from '@scmi-ts/core';
import type { FaultRule } from '@scmi-ts/platform';
import { DomainTable, isRemovalError } from '../src/common/domain-table.js';
import { perDomainNotify } from '../src/common/notify.js';
import {
  PROTOCOL_DRIVERS,
  PERFORMANCE_LIMITS_CHANGED,
  PerformanceMessageId,
  RESET_ISSUED,
  SENSOR_UPDATE,
  SensorMessageId,
  POWER_STATE_CHANGED,
  POWER_STATE_ON,
  ResetMessageId,
  SystemPowerState,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  powerState,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { spyRequests } from './support/spy-requests.js';
import { NOT_FOUND, le32, never } from './support/wire-bytes.js';
import { createHarness, type Harness } from './support/harness.js';

describe('what the protocol clients refuse and count', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('takes a removal from another copy of core or devres as a removal (by brand, not instanceof)', () => {
    type Copies = {
      core: typeof import('@scmi-ts/core');
      devres: typeof import('@scmi-ts/devres');
    };
    const loaded: Copies[] = [];
    jest.isolateModules(() => {
      loaded.push({
        core: jest.requireActual<Copies['core']>('@scmi-ts/core'),
        devres: jest.requireActual<Copies['devres']>('@scmi-ts/devres'),
      });
    });
    const [other] = loaded;
    if (other === undefined) throw new Error('isolateModules ran nothing');
    const shutdown = new other.core.ScmiShutdownError('scmi0');
    const revoked = new other.devres.RevokedError('clock');
    // The copies differ: instanceof against this copy's classes would miss them.
    expect(shutdown instanceof ScmiShutdownError).toBe(false);
    expect(revoked instanceof RevokedError).toBe(false);
    expect(isRemovalError(shutdown)).toBe(true);
    expect(isRemovalError(revoked)).toBe(true);
    expect(isRemovalError(new other.core.ScmiError('E_X', 'not a removal'))).toBe(false);
  });

  it('refuses an option that is not a boolean, sending nothing, where a truthy value would set a flag bit', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver, sensorProtocolDriver, clockProtocolDriver],
    });
    const agent = await h.create();
    const requests = h.platform.counters.requests;
    const one = 1 as unknown as boolean;
    await expect(
      agent.protocol(resetProtocolDriver).reset(0, { async: one }),
    ).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    await expect(
      agent.protocol(sensorProtocolDriver).read(0, { async: one }),
    ).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    const clock = agent.protocol(clockProtocolDriver);
    await expect(clock.setRate(0, 400_000_000, { async: one })).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    await expect(
      clock.setRate(0, 400_000_000, { async: true, delayedResponse: one }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    expect(agent.diagnostics.malformedReplies).toEqual({});
    await agent.remove();
  });

  it('refuses a rate that is not a bigint or a safe integer, sending nothing', async () => {
    h = createHarness({ drivers: [clockProtocolDriver] });
    const agent = await h.create();
    const clock = agent.protocol(clockProtocolDriver);
    const requests = h.platform.counters.requests;
    for (const rate of [
      '24000000',
      true,
      null,
      'abc',
      { valueOf: () => 24_000_000 },
      -1,
      2 ** 53,
      -1n,
      2n ** 64n,
    ]) {
      await expect(clock.setRate(1, rate as unknown as bigint)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
    }
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });

  it("checks the domain RESET's delayed response names, and counts one that is short or about another domain", async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { stage: 'delayed-response', protocolId: 0x16, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(2) },
        },
        {
          match: { stage: 'delayed-response', protocolId: 0x16, nth: 2 },
          action: { kind: 'truncate', length: 8 },
        },
      ],
    });
    const agent = await h.create();
    const reset = agent.protocol(resetProtocolDriver);
    await expect(reset.reset(0)).rejects.toMatchObject({ code: 'E_DOMAIN_ID' });
    await expect(reset.reset(0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ reset: 2 });
    await reset.reset(0); // the next one is whole
    await agent.remove();
  });

  it.each([
    ['RESET_ISSUED', resetProtocolDriver, 0x16, RESET_ISSUED, [1, 99, 0]],
    ['SENSOR_UPDATE', sensorProtocolDriver, 0x15, SENSOR_UPDATE, [1, 99, 7, 0, 0, 0]],
  ] as const)(
    'does not deliver a %s about a domain the platform never announced (counted in sourceErrors)',
    async (_name, driver, protocolId, eventId, payload) => {
      h = createHarness({
        drivers: [driver],
        platformFaults: [
          {
            // Posted when the test sends its PROTOCOL_VERSION below.
            match: { protocolId, messageId: 0x0, nth: 2 },
            action: {
              kind: 'notification-storm',
              count: 1,
              protocolId,
              messageId: eventId,
              payload: [...payload],
            },
          },
        ],
      });
      const agent = await h.create();
      const got: ScmiNotification[] = [];
      const off = await agent.events.subscribe({ protocolId, eventId }, (n) => {
        got.push(n);
      });
      const before = agent.diagnostics.notifications.sourceErrors;
      await agent.transact(protocolId, 0x0);
      await h.clock.advance(5);
      expect(got).toEqual([]);
      expect(agent.diagnostics.notifications.sourceErrors).toBe(before + 1);
      await off();
      await agent.remove();
    },
  );

  it.each([
    ['a reading cut short', [1, 0, 7, 0, 0, 0, 9]],
    ['two readings for a scalar sensor', [1, 0, 7, 0, 0, 0, 8, 0, 0, 0]],
  ])(
    'does not deliver a SENSOR_UPDATE with %s (counted in sourceErrors)',
    async (_name, payload) => {
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [
          {
            match: { protocolId: 0x15, messageId: 0x0, nth: 2 },
            action: {
              kind: 'notification-storm',
              count: 1,
              protocolId: 0x15,
              messageId: SENSOR_UPDATE,
              payload,
            },
          },
        ],
      });
      const agent = await h.create();
      const got: ScmiNotification[] = [];
      const off = await agent.events.subscribe(
        { protocolId: 0x15, eventId: SENSOR_UPDATE },
        (n) => {
          got.push(n);
        },
      );
      const before = agent.diagnostics.notifications.sourceErrors;
      await agent.transact(0x15, 0x0);
      await h.clock.advance(5);
      expect(got).toEqual([]);
      expect(agent.diagnostics.notifications.sourceErrors).toBe(before + 1);
      await off();
      await agent.remove();
    },
  );

  it('reads a version 2.0 sensor reading as SCMI v3.0 lays it out: value and timestamp per axis', async () => {
    h = createHarness({
      drivers: [sensorProtocolDriver],
      // PROTOCOL_VERSION answered 2.0 (SCP-firmware with SENSOR_V2): the reading layout is 2.0's.
      platformFaults: [
        {
          match: { protocolId: 0x15, messageId: 0x0, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(0x20000) },
        },
      ],
    });
    const agent = await h.create();
    const sensor = agent.protocol(sensorProtocolDriver);
    expect(sensor.version).toBe(0x20000);
    await h.clock.advance(250); // timestamps count from the platform's start
    const readings = await sensor.read(3, { async: false }); // imu-accelerometer: x, y, z
    expect(readings).toHaveLength(3);
    expect(readings[2]?.value).toBe(9807n);
    expect(readings.every((r) => r.timestamp > 0n)).toBe(true);
    await agent.remove();
  });

  it('does not describe a sensor whose axis descriptions stop short of the axes it announces, and counts it', async () => {
    h = createHarness({
      drivers: [sensorProtocolDriver],
      platformFaults: [
        {
          // Sensor 3's only AXIS_DESCRIPTION_GET part: 2 returned, 0 remaining (of 3 axes).
          match: { protocolId: 0x15, messageId: SensorMessageId.AXIS_DESCRIPTION_GET, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(2) },
        },
      ],
    });
    const agent = await h.create();
    const sensor = agent.protocol(sensorProtocolDriver);
    expect(sensor.domains.failures.get(3)).toMatchObject({ code: 'E_MULTIPART' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
    await agent.remove();
  });

  it('refuses an unknown rounding whether or not an update interval is given', async () => {
    h = createHarness({ drivers: [sensorProtocolDriver] });
    const agent = await h.create();
    const requests = h.platform.counters.requests;
    const round = 'sideways' as unknown as 'up';
    await expect(
      agent.protocol(sensorProtocolDriver).configSet(1, { enabled: true, round }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });

  it('counts a CLOCK_PARENT_GET naming a clock that does not exist', async () => {
    h = createHarness({
      drivers: [clockProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: 0x14, messageId: 0xe, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(9) },
        },
      ],
    });
    const agent = await h.create();
    await expect(agent.protocol(clockProtocolDriver).getParent(2)).rejects.toMatchObject({
      code: 'E_CLOCK_ID',
    });
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
    await agent.remove();
  });

  it('takes a performance notification as announced only when its notify command exists', async () => {
    const notFound = (messageId: number): FaultRule => ({
      // PROTOCOL_MESSAGE_ATTRIBUTES(messageId) at init: the platform says it has no such command.
      match: {
        protocolId: 0x13,
        messageId: 0x2,
        // Linux's order, which the client follows: NOTIFY_LEVEL, then NOTIFY_LIMITS.
        nth: messageId === PerformanceMessageId.NOTIFY_LEVEL ? 1 : 2,
      },
      action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND },
    });
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformFaults: [notFound(PerformanceMessageId.NOTIFY_LIMITS)],
    });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    expect(perf.domains.list.map((d) => [d.limitsNotify, d.levelNotify])).toEqual([
      [false, true],
      [false, true],
    ]);
    const requests = h.platform.counters.requests;
    await expect(
      agent.events.subscribe(
        { protocolId: 0x13, eventId: PERFORMANCE_LIMITS_CHANGED, source: 0 },
        never,
      ),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });

  it.each([
    ['Reset', 0x16, RESET_ISSUED],
    ['Power', 0x11, POWER_STATE_CHANGED],
  ] as const)(
    '%s: a notification counts as announced only when its notify command exists',
    async (_name, protocolId, eventId) => {
      h = createHarness({
        drivers: [resetProtocolDriver, powerProtocolDriver],
        platformFaults: [
          // Every PROTOCOL_MESSAGE_ATTRIBUTES of the protocol: NOT_FOUND.
          {
            match: { protocolId, messageId: 0x2 },
            action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND },
          },
        ],
      });
      const agent = await h.create();
      const requests = h.platform.counters.requests;
      await expect(
        agent.events.subscribe({ protocolId, eventId, source: 0 }, never),
      ).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      expect(h.platform.counters.requests).toBe(requests);
      await agent.remove();
    },
  );

  it('refuses a Power async or System power graceful that is not a boolean, sending nothing', async () => {
    h = createHarness({ drivers: [powerProtocolDriver, systemPowerProtocolDriver] });
    const agent = await h.create();
    const requests = h.platform.counters.requests;
    const one = 1 as unknown as boolean;
    await expect(
      agent.protocol(powerProtocolDriver).setState(2, POWER_STATE_ON, { async: one }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    await expect(
      agent
        .protocol(systemPowerProtocolDriver)
        .setState(SystemPowerState.WARM_RESET, { graceful: one }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });

  it('refuses a notify enable that is not a boolean, in every client, sending nothing', async () => {
    h = createHarness({ drivers: PROTOCOL_DRIVERS });
    const agent = await h.create();
    const requests = h.platform.counters.requests;
    const no = 'false' as unknown as boolean;
    const calls: [string, () => Promise<void>][] = [
      ['power', () => agent.protocol(powerProtocolDriver).notify(0, no)],
      ['power requested', () => agent.protocol(powerProtocolDriver).notifyChangeRequested(0, no)],
      ['system', () => agent.protocol(systemPowerProtocolDriver).notify(no)],
      ['perf limits', () => agent.protocol(performanceProtocolDriver).notifyLimits(0, no)],
      ['perf level', () => agent.protocol(performanceProtocolDriver).notifyLevel(0, no)],
      ['clock', () => agent.protocol(clockProtocolDriver).notifyRateChanged(0, no)],
      [
        'clock requested',
        () => agent.protocol(clockProtocolDriver).notifyRateChangeRequested(0, no),
      ],
      ['sensor trip', () => agent.protocol(sensorProtocolDriver).tripPointNotify(0, no)],
      ['sensor update', () => agent.protocol(sensorProtocolDriver).continuousUpdateNotify(0, no)],
      ['reset', () => agent.protocol(resetProtocolDriver).notify(0, no)],
    ];
    for (const [name, call] of calls) {
      await expect(call().then(() => name)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('refuses a sensor configuration that is neither a 32-bit word nor whole settings, sending nothing', async () => {
    h = createHarness({ drivers: [sensorProtocolDriver] });
    const agent = await h.create();
    const sensor = agent.protocol(sensorProtocolDriver);
    const requests = h.platform.counters.requests;
    const bad: unknown[] = [
      '1',
      1n,
      null,
      { enabled: 'false' },
      { enabled: true, timestamps: 1 },
      { enabled: true, updateInterval: null },
    ];
    for (const config of bad) {
      await expect(sensor.configSet(0, config as number)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
    }
    expect(h.platform.counters.requests).toBe(requests);
    expect(h.platform.snapshot().sensors[0]).toMatchObject({ enabled: true });
    await agent.remove();
  });

  it('sends no interval or rounding bits with an update interval of 0 s (the interval unchanged)', async () => {
    h = createHarness({ drivers: [sensorProtocolDriver] });
    const agent = await h.create();
    const words: number[] = [];
    const handle = h.platform.handle.bind(h.platform);
    jest.spyOn(h.platform, 'handle').mockImplementation((agentId, channelId, request) => {
      const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
      const header = view.getUint32(0, true);
      // CONFIG_SET (0x0A) of protocol 0x15: header, sensor id, config word (copied now: the
      // buffer is the channel's, written again by the next command).
      if ((header & 0xff) === SensorMessageId.CONFIG_SET && ((header >>> 10) & 0xff) === 0x15) {
        words.push(view.getUint32(8, true));
      }
      return handle(agentId, channelId, request);
    });
    await agent
      .protocol(sensorProtocolDriver)
      .configSet(0, { enabled: true, updateInterval: { secs: 0, exponent: -1 }, round: 'up' });
    expect(words).toEqual([1]);
    await agent.remove();
  });

  it('does not disable at removal a source its client refused before sending anything', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        // Domain 2's attributes word cleared: it does not announce RESET_ISSUED.
        {
          match: { protocolId: 0x16, messageId: 0x3, nth: 3 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [0, 0, 0, 0] },
        },
      ],
    });
    const agent = await h.create();
    await expect(
      agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED, source: 2 }, never),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    await agent.remove();
    expect(agent.diagnostics.notifications).toMatchObject({
      disabledAtRemoval: 0,
      disableFailures: 0,
    });
  });

  it('ends an every-source enable at a removal, sending nothing for the domains after it', async () => {
    const domains = await DomainTable.describe('clock', 4, (id) => Promise.resolve({ id }));
    const sent: number[] = [];
    const setNotifyEnabled = perDomainNotify(
      domains,
      () => true,
      (id) => {
        sent.push(id);
        return id === 1 ? Promise.reject(new RevokedError('clock')) : Promise.resolve();
      },
    );
    await expect(setNotifyEnabled(undefined, true)).rejects.toBeInstanceOf(RevokedError);
    expect(sent).toEqual([0, 1]);
  });

  it('refuses a subscriber of a domain that does not announce the event, an every-source subscriber present or not', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        // Domain 2's attributes word cleared: it does not announce RESET_ISSUED.
        {
          match: { protocolId: 0x16, messageId: 0x3, nth: 3 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [0, 0, 0, 0] },
        },
      ],
    });
    const notifies = spyRequests(h, 0x16, ResetMessageId.NOTIFY);
    const agent = await h.create();
    await agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED }, never);
    // As Linux's __scmi_enable_evt refuses a source whose protocol says it is not supported.
    await expect(
      agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED, source: 2 }, never),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    expect(notifies.map(([id]) => id)).toEqual([0, 1]); // nothing sent for domain 2
    await agent.remove();
    expect(agent.diagnostics.notifications).toMatchObject({
      disabledAtRemoval: 1,
      disableFailures: 0,
    });
  });

  it('fails an every-source enable none of whose domains took with the error whose outcome is unknown, so the removal disables it', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        // Domains 0 and 1 answered DENIED (the platform subscribed them all the same: the fault
        // rewrites the answer); domain 2 answers after the agent gave up.
        ...[1, 2].map((nth) => ({
          match: { protocolId: 0x16, messageId: ResetMessageId.NOTIFY, nth },
          action: { kind: 'corrupt-bytes' as const, offset: 4, bytes: le32(-3 >>> 0) },
        })),
        {
          // Past the agent's 30 ms timeout, before its removal's disable needs the channel.
          match: { protocolId: 0x16, messageId: ResetMessageId.NOTIFY, nth: 3 },
          action: { kind: 'late-reply', ms: 35 },
        },
      ],
    });
    const agent = await h.create();
    await expect(
      agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED }, never),
    ).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0, 1, 2]);
    await agent.remove();
    // The removal disabled the event: the platform sends nothing any more.
    expect(agent.diagnostics.notifications.disabledAtRemoval).toBe(1);
    expect(h.platform.subscriptions(1)).toEqual([]);
  });

  it('refuses a power state type or a reset state that is not what its field takes', async () => {
    expect(() => powerState(0, 'false' as unknown as boolean)).toThrow(
      expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
    );
    h = createHarness({ drivers: [resetProtocolDriver] });
    const agent = await h.create();
    const requests = h.platform.counters.requests;
    await expect(
      agent.protocol(resetProtocolDriver).reset(1, { resetState: null as unknown as number }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });
});
