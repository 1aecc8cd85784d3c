import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  type ScmiAgent,
  type ScmiNotification,
} from '@scmi-ts/core';
import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';
import {
  POWER_STATE_CHANGED,
  POWER_STATE_CHANGE_REQUESTED,
  POWER_STATE_CONTEXT_LOST,
  POWER_STATE_ID_MASK,
  POWER_STATE_OFF,
  POWER_STATE_ON,
  PowerMessageId,
  decodePowerStateNotification,
  parsePowerState,
  powerProtocolDriver,
  powerState,
  type PowerProtocol,
} from '../src/power/power-protocol.js';
import { DENIED } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const POWER = 0x11;
/** POWER_DOMAIN_ATTRIBUTES flags with only bit 29 (synchronous set) set, as the reply's bytes. */
const SYNC_ONLY = [0, 0, 0, 0x20];
/** POWER_DOMAIN_ATTRIBUTES flags with only bit 30 (asynchronous set) set, as the reply's bytes. */
const ASYNC_ONLY = [0, 0, 0, 0x40];

describe('Power domain protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent; power: PowerProtocol }> {
    h = createHarness({ drivers: [powerProtocolDriver], ...options });
    const agent = await h.create();
    return { h, agent, power: agent.protocol(powerProtocolDriver) };
  }

  /** Records the notifications delivered for one subscription. */
  async function collect(
    agent: ScmiAgent,
    eventId: number,
    source?: number,
  ): Promise<{ got: ScmiNotification[]; off: () => Promise<void> }> {
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: POWER, eventId, ...(source === undefined ? {} : { source }) },
      (n) => {
        got.push(n);
      },
    );
    return { got, off };
  }

  it('describes every domain at init, as the platform configures them', async () => {
    const { power } = await probe();
    expect(power.version).toBe(0x30001);
    expect(power.versionSource).toBe('platform');
    expect(power.statistics).toEqual({ address: 0n, length: 0 });
    expect(power.domains.count).toBe(3);
    expect(power.domains.failures.size).toBe(0);
    const described = {
      stateChangedNotifications: true,
      syncSet: true,
      changeRequestedNotifications: true,
    };
    expect(power.domains.list).toEqual([
      { id: 0, name: 'cpu-cluster0', asyncSet: false, ...described },
      { id: 1, name: 'gpu', asyncSet: false, ...described },
      { id: 2, name: 'display', asyncSet: true, ...described },
    ]);
    expect(power.domains.info(2).name).toBe('display');
  });

  it('reports the statistics region as PROTOCOL_ATTRIBUTES gives it, ignoring reserved bits', async () => {
    const { power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: 0x1 },
          action: {
            kind: 'corrupt-bytes',
            offset: 8,
            // num_domains 3 with reserved bits 31:16 set, address 0x1_12345678, length 0x100.
            bytes: [3, 0, 0xff, 0xff, 0x78, 0x56, 0x34, 0x12, 1, 0, 0, 0, 0, 1, 0, 0],
          },
        },
      ],
    });
    expect(power.domains.count).toBe(3);
    expect(power.statistics).toEqual({ address: 0x1_1234_5678n, length: 0x100 });
  });

  it('sets a state synchronously and reads it back', async () => {
    const { h, power } = await probe();
    expect(await power.getState(1)).toBe(POWER_STATE_OFF);
    await power.setState(1, POWER_STATE_ON);
    expect(h.platform.snapshot().powerDomains).toEqual([0, POWER_STATE_ON, 0]);
    expect(await power.getState(1)).toBe(POWER_STATE_ON);
    await power.setState(0, powerState(0, true));
    expect(await power.getState(0)).toBe(POWER_STATE_OFF);
    expect(h.platform.counters.delayedResponsesPosted).toBe(0);
  });

  it('sets a state asynchronously: resolves once accepted, with no delayed response, and the state follows', async () => {
    const { h, power } = await probe();
    const retention = powerState(1, true);
    const start = h.clock.now();
    await power.setState(2, retention, { async: true });
    // Accepted, not applied yet: the platform applies it after its async latency (1 ms).
    expect(h.clock.now() - start).toBeLessThan(h.platform.behaviour.asyncLatencyMs);
    expect(h.platform.pendingOperations).toBe(1);
    expect(h.platform.snapshot().powerDomains[2]).toBe(POWER_STATE_ON);
    await h.clock.runUntilIdle();
    expect(h.platform.snapshot().powerDomains[2]).toBe(retention);
    expect(await power.getState(2)).toBe(retention);
    expect(h.platform.counters.delayedResponsesPosted).toBe(0);
  });

  it('sees an asynchronous set complete through the notifications it causes', async () => {
    const { h, agent, power } = await probe();
    const requested = await collect(agent, POWER_STATE_CHANGE_REQUESTED, 2);
    const changed = await collect(agent, POWER_STATE_CHANGED, 2);
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: POWER, notificationId: POWER_STATE_CHANGED, domainId: 2 },
      { protocolId: POWER, notificationId: POWER_STATE_CHANGE_REQUESTED, domainId: 2 },
    ]);
    await power.setState(2, POWER_STATE_OFF, { async: true });
    await power.setState(1, POWER_STATE_ON); // not subscribed: not sent
    await h.clock.runUntilIdle();
    const expected = { agentId: 1, domainId: 2, powerState: POWER_STATE_OFF };
    expect(requested.got.map((n) => decodePowerStateNotification(n.payload))).toEqual([expected]);
    expect(changed.got.map((n) => decodePowerStateNotification(n.payload))).toEqual([expected]);
    expect(changed.got[0]?.source).toBe(2);
    expect(changed.got[0]?.timestamp).toBeGreaterThanOrEqual(requested.got[0]?.timestamp ?? 0);
    await requested.off();
    await changed.off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('passes on the platform refusing an asynchronous set, a state the domain lacks, or a domain it denies', async () => {
    const { power } = await probe();
    // Domain 0 does not announce asynchronous sets: sent all the same, NOT_SUPPORTED.
    await expect(power.setState(0, POWER_STATE_OFF, { async: true })).rejects.toMatchObject({
      status: -1,
    });
    await expect(power.setState(0, powerState(1, true))).rejects.toMatchObject({ status: -2 });
    // Reserved bits are sent as given.
    await expect(power.setState(0, 0x80000000 | POWER_STATE_OFF)).rejects.toBeInstanceOf(
      ScmiStatusError,
    );
    await h?.close();
    // PSCI (agent 2) may use power domain 0 only.
    const psci = await probe({ agentId: 2 });
    await expect(psci.power.setState(1, POWER_STATE_ON)).rejects.toMatchObject({ status: -3 });
    await expect(psci.power.getState(1)).rejects.toMatchObject({ status: -3 });
    await psci.power.setState(0, POWER_STATE_OFF);
    expect(psci.h.platform.snapshot().powerDomains[0]).toBe(POWER_STATE_OFF);
  });

  it('refuses a bad domain id or power state before anything is sent', async () => {
    const { h, power } = await probe();
    const requests = h.platform.counters.requests;
    for (const id of [3, -1, 0.5, Number.NaN]) {
      await expect(power.setState(id, POWER_STATE_ON)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      await expect(power.getState(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(power.notify(id, true)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(power.notifyChangeRequested(id, true)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      expect(() => power.domains.info(id)).toThrow(ScmiError);
    }
    for (const state of [-(2 ** 31) - 1, 2 ** 32, 1.5, Number.NaN]) {
      await expect(power.setState(0, state)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('builds and takes apart power_state words', () => {
    expect(powerState(0, false)).toBe(POWER_STATE_ON);
    expect(powerState(0, true)).toBe(POWER_STATE_OFF);
    expect(powerState(POWER_STATE_ID_MASK, true)).toBe(0x4fffffff);
    for (const stateId of [POWER_STATE_ID_MASK + 1, -1, 0.5]) {
      expect(() => powerState(stateId, false)).toThrow(
        expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
      );
    }
    expect(parsePowerState(POWER_STATE_OFF)).toEqual({
      contextLost: true,
      stateId: 0,
      reserved: 0,
    });
    expect(parsePowerState(POWER_STATE_CONTEXT_LOST | 7)).toMatchObject({
      contextLost: true,
      stateId: 7,
    });
    expect(parsePowerState(0xb0000003)).toEqual({
      contextLost: false,
      stateId: 3,
      reserved: 0xb0000000,
    });
  });

  it('reads an extended name with POWER_DOMAIN_NAME_GET, and keeps the short one when that fails', async () => {
    const { power } = await probe({
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        devices: [],
        powerDomains: [{ name: 'big-cluster-with-long-name' }, { name: 'display-controller-0' }],
      }),
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.DOMAIN_NAME_GET, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const [big, display] = power.domains.list;
    expect(big).toMatchObject({ name: 'big-cluster-with-long-name' });
    expect(big).not.toHaveProperty('nameError');
    expect(display?.name).toBe('display-control');
    expect(display?.nameError).toBeInstanceOf(ScmiStatusError);
  });

  it('records a domain the platform fails to describe, and goes on with the others', async () => {
    const { h, power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.DOMAIN_ATTRIBUTES, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    expect(power.domains.list.map((d) => d.id)).toEqual([0, 2]);
    expect(power.domains.failures.get(1)).toBeInstanceOf(ScmiStatusError);
    let thrown: unknown;
    try {
      power.domains.info(1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect((thrown as Error).cause).toBe(power.domains.failures.get(1));
    const requests = h.platform.counters.requests;
    await expect(power.setState(1, POWER_STATE_ON)).rejects.toMatchObject({
      code: 'E_DOMAIN_UNAVAILABLE',
    });
    await expect(power.getState(1)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('counts a short POWER_DOMAIN_ATTRIBUTES reply as malformed and records the domain failed', async () => {
    const { agent, power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.DOMAIN_ATTRIBUTES, nth: 1 },
          action: { kind: 'truncate', length: 8 + 4 + 4 }, // header, status, flags, 4 of 16 name bytes
        },
      ],
    });
    const error = power.domains.failures.get(0);
    expect(error).toBeInstanceOf(ScmiMalformedError);
    expect(error).toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ power: 1 });
    expect(power.domains.list.map((d) => d.id)).toEqual([1, 2]);
  });

  it('counts a POWER_STATE_GET reply without its state as malformed, and passes on an error status', async () => {
    const { agent, power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.STATE_GET, nth: 1 },
          action: { kind: 'truncate', length: 8 + 2 },
        },
        {
          match: { protocolId: POWER, messageId: PowerMessageId.STATE_GET, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    await expect(power.getState(0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ power: 1 });
    await expect(power.getState(0)).rejects.toMatchObject({ status: -3 });
    expect(await power.getState(0)).toBe(POWER_STATE_ON);
    expect(agent.diagnostics.malformedReplies).toEqual({ power: 1 });
  });

  it.each([
    ['fails', { kind: 'corrupt-bytes', offset: 4, bytes: DENIED } as const, ScmiStatusError],
    ['is short', { kind: 'truncate', length: 8 + 12 } as const, ScmiMalformedError],
  ])(
    'fails to initialize when PROTOCOL_ATTRIBUTES %s: the agent goes on without it',
    async (_what, action, type) => {
      h = createHarness({
        drivers: [powerProtocolDriver],
        platformFaults: [{ match: { protocolId: POWER, messageId: 0x1 }, action }],
      });
      const agent = await h.create();
      expect(agent.protocolErrors.get(POWER)).toBeInstanceOf(type);
      expect(() => agent.protocol(powerProtocolDriver)).toThrow(
        expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
      );
      await agent.remove();
    },
  );

  it('delivers POWER_STATE_CHANGED to a subscriber of one domain, enabling only that domain', async () => {
    const { h, agent, power } = await probe();
    const { got, off } = await collect(agent, POWER_STATE_CHANGED, 1);
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: POWER, notificationId: POWER_STATE_CHANGED, domainId: 1 },
    ]);
    await power.setState(1, POWER_STATE_ON);
    await power.setState(0, POWER_STATE_OFF); // not subscribed: not sent
    await h.clock.runUntilIdle();
    expect(got.map((n) => decodePowerStateNotification(n.payload))).toEqual([
      { agentId: 1, domainId: 1, powerState: POWER_STATE_ON },
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('enables every domain that announces a notification for an every-source subscriber', async () => {
    const { h, agent } = await probe();
    const changed = await collect(agent, POWER_STATE_CHANGED);
    const requested = await collect(agent, POWER_STATE_CHANGE_REQUESTED);
    const subscribed = h.platform.subscriptions(1);
    expect(
      subscribed.filter((s) => s.notificationId === POWER_STATE_CHANGED).map((s) => s.domainId),
    ).toEqual([0, 1, 2]);
    expect(
      subscribed
        .filter((s) => s.notificationId === POWER_STATE_CHANGE_REQUESTED)
        .map((s) => s.domainId),
    ).toEqual([0, 1, 2]);
    await changed.off();
    await requested.off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('refuses to subscribe to a domain that does not announce the notification, sending nothing', async () => {
    const { h, agent, power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.DOMAIN_ATTRIBUTES, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: ASYNC_ONLY },
        },
        {
          match: { protocolId: POWER, messageId: PowerMessageId.DOMAIN_ATTRIBUTES, nth: 3 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: SYNC_ONLY },
        },
      ],
    });
    const silent = { stateChangedNotifications: false, changeRequestedNotifications: false };
    expect(power.domains.info(1)).toMatchObject({ asyncSet: true, syncSet: false, ...silent });
    expect(power.domains.info(2)).toMatchObject({ asyncSet: false, syncSet: true, ...silent });
    const requests = h.platform.counters.requests;
    for (const eventId of [POWER_STATE_CHANGED, POWER_STATE_CHANGE_REQUESTED]) {
      for (const source of [1, 2]) {
        await expect(collect(agent, eventId, source)).rejects.toMatchObject({
          code: 'E_NOT_SUPPORTED',
        });
      }
      // A source past the domains is refused too.
      await expect(collect(agent, eventId, 3)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
    // Every source: domain 0 only.
    const { off } = await collect(agent, POWER_STATE_CHANGE_REQUESTED);
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0]);
    await off();
    await agent.remove();
  });

  it('drops a notification whose payload is not 12 bytes, as Linux does', async () => {
    const { h, agent, power } = await probe({
      platformFaults: [
        {
          match: { protocolId: POWER, messageId: PowerMessageId.STATE_GET },
          action: {
            kind: 'notification-storm',
            count: 1,
            messageId: POWER_STATE_CHANGED,
            payload: [1, 0, 0, 0],
          },
        },
      ],
    });
    const { got, off } = await collect(agent, POWER_STATE_CHANGED, 0);
    await power.getState(0);
    await h.clock.runUntilIdle();
    expect(got).toEqual([]);
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.badMessages.invalid).toBe(1);
    await off();
    await agent.remove();
  });

  it('announces neither notifications nor asynchronous sets on a wire without a P2A channel', async () => {
    const { h, power } = await probe({ wire: { a2p: [0], p2a: [] } });
    expect(power.domains.info(2)).toMatchObject({
      asyncSet: false,
      stateChangedNotifications: false,
      changeRequestedNotifications: false,
    });
    await expect(power.setState(2, POWER_STATE_OFF, { async: true })).rejects.toMatchObject({
      status: -1,
    });
    await power.setState(2, POWER_STATE_OFF);
    expect(h.platform.snapshot().powerDomains[2]).toBe(POWER_STATE_OFF);
  });

  it('refuses every command once the agent is removed', async () => {
    const { agent, power } = await probe();
    await agent.remove();
    await expect(power.setState(1, POWER_STATE_ON)).rejects.toBeInstanceOf(RevokedError);
    await expect(power.getState(1)).rejects.toBeInstanceOf(RevokedError);
    await expect(power.notify(1, false)).rejects.toBeInstanceOf(RevokedError);
  });

  it('decodes a power state notification and refuses a short payload', () => {
    const payload = new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0x40]);
    expect(decodePowerStateNotification(payload)).toEqual({
      agentId: 2,
      domainId: 1,
      powerState: 0x40000007,
    });
    expect(() => decodePowerStateNotification(payload.subarray(0, 8))).toThrow(ScmiMalformedError);
  });
});
