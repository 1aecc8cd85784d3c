import { Container, ContainerModule } from 'inversify';
import {
  CLOCK,
  PROTOCOL_DRIVER,
  RevokedError,
  type ProtocolDriver,
  ScmiMalformedError,
  ScmiStatusError,
  coreModule,
  createAgent,
  type ScmiAgent,
  type ScmiNotification,
} from '@scmi-ts/core';
import {
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
} from '@scmi-ts/mailbox-transport';
import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';
import {
  SYSTEM_POWER_GRACEFUL,
  SYSTEM_POWER_STATE_NOTIFIER,
  SYSTEM_POWER_STATE_VENDOR,
  SystemPowerMessageId,
  SystemPowerState,
  decodeSystemPowerStateNotifier,
  systemPowerProtocolDriver,
  type SystemPowerProtocol,
  type SystemPowerStateNotifier,
} from '../src/system-power/system-power-protocol.js';
import { DENIED } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const SYSTEM = 0x12;
/** PROTOCOL_VERSION 2.0 as a reply's return value. */
const VERSION_2 = [0, 0, 2, 0];
/** PROTOCOL_VERSION 1.0 as a reply's return value. */
const VERSION_1 = [0, 0, 1, 0];

describe('System power protocol client', () => {
  let h: Harness | undefined;
  let second: { agent: ScmiAgent; close: () => void } | undefined;
  afterEach(async () => {
    if (second !== undefined) {
      await second.agent.remove();
      second.close();
      second = undefined;
    }
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent; system: SystemPowerProtocol }> {
    h = createHarness({ drivers: [systemPowerProtocolDriver], ...options });
    const agent = await h.create();
    return { h, agent, system: agent.protocol(systemPowerProtocolDriver) };
  }

  /**
   * A second agent (PSCI, id 2) on the harness's platform, over its own wire: the platform sends
   * SYSTEM_POWER_STATE_NOTIFIER to every subscriber but the agent that asked for the transition.
   */
  async function connectPsci(harness: Harness): Promise<SystemPowerProtocol> {
    const mailbox = createSameThreadMailboxWire(harness.clock, { a2p: [0], p2a: [0] });
    const responder = new SmtResponder({
      platform: harness.platform,
      agentId: 2,
      end: mailbox.platformEnd,
      clock: harness.clock,
    });
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);
    container.rebind(CLOCK).toConstantValue(harness.clock);
    container.load(
      new ContainerModule(({ bind }) => {
        bind(PROTOCOL_DRIVER).toConstantValue(systemPowerProtocolDriver);
      }),
    );
    const agent = await createAgent(container, {
      transport: 'mailbox',
      transportConfig: { wire: mailbox.wire },
    });
    second = {
      agent,
      close: () => {
        responder.close();
        expect(responder.armedTimers).toBe(0);
      },
    };
    return agent.protocol(systemPowerProtocolDriver);
  }

  async function collect(
    agent: ScmiAgent,
    source?: number,
  ): Promise<{ got: ScmiNotification[]; off: () => Promise<void> }> {
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      {
        protocolId: SYSTEM,
        eventId: SYSTEM_POWER_STATE_NOTIFIER,
        ...(source === undefined ? {} : { source }),
      },
      (n) => {
        got.push(n);
      },
    );
    return { got, off };
  }

  /** A rule that posts one SYSTEM_POWER_STATE_NOTIFIER of `words` at each SYSTEM_POWER_STATE_GET. */
  function notifierAtStateGet(
    words: readonly number[],
  ): NonNullable<HarnessOptions['platformFaults']>[number] {
    return {
      match: { protocolId: SYSTEM, messageId: SystemPowerMessageId.STATE_GET },
      action: {
        kind: 'notification-storm',
        count: 1,
        messageId: SYSTEM_POWER_STATE_NOTIFIER,
        payload: words,
      },
    };
  }

  it('sends at init the version and a look for SYSTEM_POWER_STATE_NOTIFY, as Linux, and reads the state', async () => {
    const base = createHarness();
    const bare = await base.create();
    const baseline = base.platform.counters.requests;
    await bare.remove();
    await base.close();
    const { h, system } = await probe();
    // PROTOCOL_VERSION (core's, at probe) and PROTOCOL_MESSAGE_ATTRIBUTES(STATE_NOTIFY) more
    // than an agent without the driver.
    expect(h.platform.counters.requests).toBe(baseline + 2);
    expect(system.notifications).toBe(true);
    expect(system.version).toBe(0x20001);
    expect(system.versionSource).toBe('platform');
    expect(system.gracefulTimeout).toBe(true);
    expect(await system.getState()).toBe(SystemPowerState.POWER_UP);
    expect(h.platform.snapshot().systemPower).toBe(SystemPowerState.POWER_UP);
  });

  it('refuses a subscription, sending nothing, when the platform does not implement SYSTEM_POWER_STATE_NOTIFY', async () => {
    const { h, agent, system } = await probe({
      platformFaults: [
        {
          // PROTOCOL_MESSAGE_ATTRIBUTES(STATE_NOTIFY) at init answered NOT_FOUND (status -4).
          match: { protocolId: 0x12, messageId: 0x2, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: [0xfc, 0xff, 0xff, 0xff] },
        },
      ],
    });
    expect(system.notifications).toBe(false);
    const requests = h.platform.counters.requests;
    await expect(
      agent.events.subscribe({ protocolId: 0x12, eventId: SYSTEM_POWER_STATE_NOTIFIER }, () => {
        /* never called */
      }),
    ).rejects.toMatchObject({
      code: 'E_NOT_SUPPORTED',
      message: 'the platform does not implement SYSTEM_POWER_STATE_NOTIFY',
    });
    expect(h.platform.counters.requests).toBe(requests);
    expect(system.notificationsCheckError).toBeUndefined();
    // Through a view too.
    expect(system.withCallOptions({ timeoutMs: 50 }).notifications).toBe(false);
  });

  it('keeps the error of a SYSTEM_POWER_STATE_NOTIFY check that failed, and names it when it refuses a subscription', async () => {
    const { h, agent, system } = await probe({
      platformFaults: [
        {
          // PROTOCOL_MESSAGE_ATTRIBUTES(STATE_NOTIFY) at init answered BUSY (status -6): no answer
          // to the question, and the command is left out all the same (Linux).
          match: { protocolId: 0x12, messageId: 0x2, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: [0xfa, 0xff, 0xff, 0xff] },
        },
      ],
    });
    expect(system.notifications).toBe(false);
    expect(system.notificationsCheckError).toMatchObject({ status: -6 });
    const requests = h.platform.counters.requests;
    const refusal = await agent.events
      .subscribe({ protocolId: 0x12, eventId: SYSTEM_POWER_STATE_NOTIFIER }, () => undefined)
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      code: 'E_NOT_SUPPORTED',
      message:
        'SYSTEM_POWER_STATE_NOTIFY is left out: its check at init failed (system message 0x2 PROTOCOL_MESSAGE_ATTRIBUTES failed: BUSY (-6))',
      cause: system.notificationsCheckError,
    });
    expect(h.platform.counters.requests).toBe(requests);
    expect(system.withCallOptions({ timeoutMs: 50 }).notificationsCheckError).toBe(
      system.notificationsCheckError,
    );
  });

  it('reads PROTOCOL_ATTRIBUTES and what SYSTEM_POWER_STATE_SET supports', async () => {
    const { system } = await probe();
    expect(await system.attributes()).toBe(0);
    expect(await system.stateSetSupport()).toEqual({
      warmReset: true,
      suspend: true,
      attributes: 0xc0000000,
    });
  });

  it('sets the system state forcefully or gracefully', async () => {
    const { h, system } = await probe();
    await system.setState(SystemPowerState.WARM_RESET);
    expect(h.platform.snapshot().systemPower).toBe(SystemPowerState.WARM_RESET);
    await system.setState(SystemPowerState.SUSPEND, { graceful: true });
    expect(await system.getState()).toBe(SystemPowerState.SUSPEND);
    await system.setState(SystemPowerState.SHUTDOWN, { graceful: false });
    expect(h.platform.snapshot().systemPower).toBe(SystemPowerState.SHUTDOWN);
  });

  it('passes on the platform refusing a state: reserved, vendor, or POWER_UP from a non-management agent', async () => {
    const { h, system } = await probe();
    await expect(system.setState(5)).rejects.toMatchObject({ status: -2 });
    await expect(system.setState(SYSTEM_POWER_STATE_VENDOR | 1)).rejects.toMatchObject({
      status: -2,
    });
    await expect(system.setState(SystemPowerState.POWER_UP)).rejects.toMatchObject({
      status: -1,
    });
    expect(h.platform.snapshot().systemPower).toBe(SystemPowerState.POWER_UP);
  });

  it('powers the system up from the management agent once it is shut down', async () => {
    const { h, system } = await probe({
      agentId: 2,
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        systemPower: { state: SystemPowerState.SHUTDOWN },
      }),
    });
    await system.setState(SystemPowerState.POWER_UP);
    expect(h.platform.snapshot().systemPower).toBe(SystemPowerState.POWER_UP);
    await expect(system.setState(SystemPowerState.POWER_UP)).rejects.toMatchObject({
      status: -3, // DENIED: nothing to power up
    });
  });

  it('refuses a state that is not a 32-bit value before anything is sent', async () => {
    const { h, system } = await probe();
    const requests = h.platform.counters.requests;
    for (const state of [-(2 ** 31) - 1, 2 ** 32, 1.5, Number.NaN]) {
      await expect(system.setState(state)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('passes on an error status and counts a short reply as malformed', async () => {
    const { agent, system } = await probe({
      platformFaults: [
        {
          match: { protocolId: SYSTEM, messageId: SystemPowerMessageId.STATE_GET, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
        {
          match: { protocolId: SYSTEM, messageId: SystemPowerMessageId.STATE_GET, nth: 2 },
          action: { kind: 'truncate', length: 8 + 3 },
        },
        {
          match: { protocolId: SYSTEM, messageId: 0x1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
        {
          match: { protocolId: SYSTEM, messageId: 0x2 },
          action: { kind: 'truncate', length: 8 },
        },
      ],
    });
    await expect(system.getState()).rejects.toBeInstanceOf(ScmiStatusError);
    await expect(system.getState()).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    await expect(system.attributes()).rejects.toMatchObject({ status: -3 });
    await expect(system.stateSetSupport()).rejects.toBeInstanceOf(ScmiMalformedError);
    expect(agent.diagnostics.malformedReplies).toEqual({ system: 2 });
    expect(await system.getState()).toBe(SystemPowerState.POWER_UP);
  });

  it('is instantiated even when PROTOCOL_ATTRIBUTES fails: init does not ask for it, as Linux', async () => {
    const { agent, system } = await probe({
      platformFaults: [
        {
          match: { protocolId: SYSTEM, messageId: 0x1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    expect(agent.protocolErrors.get(SYSTEM)).toBeUndefined();
    await expect(system.attributes()).rejects.toMatchObject({ status: -3 });
  });

  it('delivers SYSTEM_POWER_STATE_NOTIFIER of another agent’s transition to a subscriber', async () => {
    const { h, agent, system } = await probe({
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        systemPower: { state: SystemPowerState.POWER_UP, gracefulTimeoutMs: 3000 },
      }),
    });
    const { got, off } = await collect(agent, 0);
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: SYSTEM, notificationId: SYSTEM_POWER_STATE_NOTIFIER, domainId: 0 },
    ]);
    const psci = await connectPsci(h);
    await psci.setState(SystemPowerState.SHUTDOWN, { graceful: true });
    await system.setState(SystemPowerState.WARM_RESET); // its own: not sent to it
    await h.clock.runUntilIdle();
    expect(got.map((n) => n.source)).toEqual([0]);
    expect(got.map((n) => decodeSystemPowerStateNotifier(n.payload))).toEqual([
      {
        agentId: 2,
        flags: SYSTEM_POWER_GRACEFUL,
        graceful: true,
        systemState: SystemPowerState.SHUTDOWN,
        // A version 2.x payload: the platform's graceful timeout, kept for a graceful shutdown.
        timeoutMs: 3000,
        timeoutWord: 3000,
      },
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('gives SYSTEM_POWER_STATE_NOTIFIER decoded to onStateNotifier, until its signal fires', async () => {
    const { h, agent, system } = await probe({
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        systemPower: { state: SystemPowerState.POWER_UP, gracefulTimeoutMs: 250 },
      }),
    });
    const got: SystemPowerStateNotifier[] = [];
    const stop = new AbortController();
    await system.onStateNotifier((e) => void got.push(e), { signal: stop.signal });
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: SYSTEM, notificationId: SYSTEM_POWER_STATE_NOTIFIER, domainId: 0 },
    ]);
    const psci = await connectPsci(h);
    await psci.setState(SystemPowerState.SHUTDOWN, { graceful: true });
    await h.clock.runUntilIdle();
    expect(got).toEqual([
      {
        agentId: 2,
        flags: SYSTEM_POWER_GRACEFUL,
        graceful: true,
        systemState: SystemPowerState.SHUTDOWN,
        timeoutMs: 250,
        timeoutWord: 250,
      },
    ]);
    stop.abort();
    await h.clock.runUntilIdle();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('has one source: every-source subscription enables it, another source is refused', async () => {
    const { h, agent } = await probe();
    const requests = h.platform.counters.requests;
    await expect(collect(agent, 1)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    const { got, off } = await collect(agent);
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: SYSTEM, notificationId: SYSTEM_POWER_STATE_NOTIFIER, domainId: 0 },
    ]);
    const psci = await connectPsci(h);
    await psci.setState(SystemPowerState.COLD_RESET);
    await h.clock.runUntilIdle();
    expect(got.map((n) => decodeSystemPowerStateNotifier(n.payload).systemState)).toEqual([
      SystemPowerState.COLD_RESET,
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('takes a 12-byte notifier at version 1.0 and drops a 16-byte one', async () => {
    const { h, agent, system } = await probe({
      platformFaults: [
        {
          match: { protocolId: SYSTEM, messageId: 0x0 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: VERSION_1 },
        },
        {
          ...notifierAtStateGet([2, 1, 0, 500]),
          match: { ...notifierAtStateGet([]).match, nth: 1 },
        },
        { ...notifierAtStateGet([2, 1, 0]), match: { ...notifierAtStateGet([]).match, nth: 2 } },
      ],
    });
    expect([system.version, system.gracefulTimeout]).toEqual([0x10000, false]);
    const { got, off } = await collect(agent);
    await system.getState();
    await system.getState();
    await h.clock.runUntilIdle();
    expect(got.map((n) => decodeSystemPowerStateNotifier(n.payload))).toEqual([
      expect.objectContaining({ agentId: 2, graceful: true, timeoutWord: undefined }),
    ]);
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.badMessages.invalid).toBe(1);
    await off();
    await agent.remove();
  });

  it('reads the timeout of a version 2.0 notifier as Linux does, and drops a 12-byte one', async () => {
    const match = notifierAtStateGet([]).match;
    const { h, agent, system } = await probe({
      platformFaults: [
        {
          match: { protocolId: SYSTEM, messageId: 0x0 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: VERSION_2 },
        },
        {
          ...notifierAtStateGet([2, 1, SystemPowerState.SHUTDOWN, 500]),
          match: { ...match, nth: 1 },
        },
        { ...notifierAtStateGet([2, 1, SystemPowerState.SHUTDOWN]), match: { ...match, nth: 2 } },
        // Linux keeps the timeout of a graceful shutdown only.
        {
          ...notifierAtStateGet([2, 1, SystemPowerState.WARM_RESET, 500]),
          match: { ...match, nth: 3 },
        },
        {
          ...notifierAtStateGet([2, 0, SystemPowerState.SHUTDOWN, 500]),
          match: { ...match, nth: 4 },
        },
      ],
    });
    expect(system.version).toBe(0x20000);
    expect(system.gracefulTimeout).toBe(true);
    const { got, off } = await collect(agent, 0);
    for (let i = 0; i < 4; i++) await system.getState();
    await h.clock.runUntilIdle();
    expect(
      got.map((n) => {
        const { systemState, graceful, timeoutMs, timeoutWord } = decodeSystemPowerStateNotifier(
          n.payload,
        );
        return { systemState, graceful, timeoutMs, timeoutWord };
      }),
    ).toEqual([
      { systemState: SystemPowerState.SHUTDOWN, graceful: true, timeoutMs: 500, timeoutWord: 500 },
      { systemState: SystemPowerState.WARM_RESET, graceful: true, timeoutMs: 0, timeoutWord: 500 },
      { systemState: SystemPowerState.SHUTDOWN, graceful: false, timeoutMs: 0, timeoutWord: 500 },
    ]);
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.badMessages.invalid).toBe(1);
    await off();
    await agent.remove();
  });

  it('negotiates a 1.0 driver down on the 2.1 platform, which then sends it the 12-byte notifier', async () => {
    const v1: ProtocolDriver<SystemPowerProtocol> = {
      ...systemPowerProtocolDriver,
      version: 0x10000,
    };
    h = createHarness({
      drivers: [v1],
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        systemPower: { state: SystemPowerState.POWER_UP, gracefulTimeoutMs: 3000 },
      }),
    });
    const agent = await h.create();
    const system = agent.protocol(v1);
    expect([system.version, system.versionSource, system.gracefulTimeout]).toEqual([
      0x10000,
      'negotiated',
      false,
    ]);
    const { got, off } = await collect(agent);
    const psci = await connectPsci(h);
    expect([psci.version, psci.gracefulTimeout]).toEqual([0x20001, true]);
    await psci.setState(SystemPowerState.SHUTDOWN, { graceful: true });
    await h.clock.runUntilIdle();
    // Delivered (a 16-byte payload would be dropped at 1.0), without a timeout word.
    expect(
      got.map((n) => [n.payload.byteLength, decodeSystemPowerStateNotifier(n.payload)]),
    ).toEqual([
      [
        12,
        {
          agentId: 2,
          flags: SYSTEM_POWER_GRACEFUL,
          graceful: true,
          systemState: SystemPowerState.SHUTDOWN,
          timeoutMs: 0,
          timeoutWord: undefined,
        },
      ],
    ]);
    await off();
    await agent.remove();
  });

  it('cannot enable the notifier on a wire without a P2A channel', async () => {
    const { system } = await probe({ wire: { a2p: [0], p2a: [] } });
    await expect(system.notify(true)).rejects.toMatchObject({ status: -1 });
    await system.setState(SystemPowerState.WARM_RESET);
  });

  it('refuses every command once the agent is removed', async () => {
    const { agent, system } = await probe();
    await agent.remove();
    await expect(system.getState()).rejects.toBeInstanceOf(RevokedError);
    await expect(system.setState(SystemPowerState.SHUTDOWN)).rejects.toBeInstanceOf(RevokedError);
    await expect(system.notify(false)).rejects.toBeInstanceOf(RevokedError);
    await expect(system.attributes()).rejects.toBeInstanceOf(RevokedError);
  });

  it('decodes SYSTEM_POWER_STATE_NOTIFIER payloads of both versions and refuses a short one', () => {
    const v1 = new Uint8Array([3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0]);
    expect(decodeSystemPowerStateNotifier(v1)).toEqual({
      agentId: 3,
      flags: 1,
      graceful: true,
      systemState: SystemPowerState.SUSPEND,
      timeoutMs: 0,
      timeoutWord: undefined,
    });
    const v2 = new Uint8Array([3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x27, 0, 0]);
    expect(decodeSystemPowerStateNotifier(v2)).toMatchObject({
      flags: 3,
      graceful: true,
      systemState: SystemPowerState.SHUTDOWN,
      timeoutMs: 10_000,
      timeoutWord: 10_000,
    });
    expect(() => decodeSystemPowerStateNotifier(v1.subarray(0, 8))).toThrow(ScmiMalformedError);
  });
});
