import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  ScmiTimeoutError,
  type ScmiNotification,
} from '@scmi-ts/core';
import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';
import {
  RESET_ISSUED,
  RESET_STATE_VENDOR,
  ResetMessageId,
  decodeResetIssued,
  resetProtocolDriver,
  type ResetProtocol,
} from '../src/index.js';
import { DENIED } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const RESET = 0x16;

describe('Reset protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; reset: ResetProtocol }> {
    h = createHarness({ drivers: [resetProtocolDriver], ...options });
    const agent = await h.create();
    return { h, reset: agent.protocol(resetProtocolDriver) };
  }

  it('describes every domain at init, as the platform configures them', async () => {
    const { reset } = await probe();
    expect(reset.version).toBe(0x30001);
    expect(reset.versionSource).toBe('platform');
    expect(reset.domains.count).toBe(3);
    expect(reset.domains.failures.size).toBe(0);
    expect(reset.domains.list).toEqual([
      { id: 0, name: 'gpu', asyncReset: true, notifications: true, latencyUs: 500 },
      { id: 1, name: 'usb', asyncReset: false, notifications: true, latencyUs: 100 },
      // No latency configured: the platform sends 0xFFFFFFFF, "unknown".
      { id: 2, name: 'uart', asyncReset: false, notifications: true, latencyUs: undefined },
    ]);
    expect(reset.domains.info(1).name).toBe('usb');
  });

  it('resets asynchronously a domain that announces it, waiting for the delayed response', async () => {
    const { h, reset } = await probe();
    const before = h.platform.counters.delayedResponsesPosted;
    const start = h.clock.now();
    await reset.reset(0);
    expect(h.platform.counters.delayedResponsesPosted).toBe(before + 1);
    // The delayed response comes after the domain's latency (500 µs).
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(0.5);
    expect(h.platform.snapshot().resetDomains[0]).toEqual({ asserted: false, resets: 1 });
  });

  it('resets synchronously when asked, or when the domain has no asynchronous reset', async () => {
    const { h, reset } = await probe();
    await reset.reset(0, { async: false });
    await reset.reset(1);
    expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    expect(h.platform.snapshot().resetDomains.map((d) => d.resets)).toEqual([1, 1, 0]);
  });

  it('fails an asynchronous reset whose delayed response never comes with a timeout', async () => {
    const { reset } = await probe({
      platformFaults: [
        { match: { stage: 'delayed-response', protocolId: RESET }, action: { kind: 'drop' } },
      ],
    });
    await expect(reset.reset(0)).rejects.toBeInstanceOf(ScmiTimeoutError);
  });

  it('asserts and deasserts a domain explicitly', async () => {
    const { h, reset } = await probe();
    await reset.assert(2);
    expect(h.platform.snapshot().resetDomains[2]).toEqual({ asserted: true, resets: 0 });
    await reset.deassert(2);
    expect(h.platform.snapshot().resetDomains[2]).toEqual({ asserted: false, resets: 0 });
  });

  it('sends a vendor reset state as given, and the platform refuses a reserved architectural one', async () => {
    const { reset } = await probe();
    await reset.reset(1, { resetState: RESET_STATE_VENDOR | 7 });
    await expect(reset.reset(1, { resetState: 5 })).rejects.toMatchObject({
      status: -2, // INVALID_PARAMETERS: architectural states other than 0 are reserved
    });
  });

  it('refuses a bad domain id or reset state before anything is sent', async () => {
    const { h, reset } = await probe();
    const requests = h.platform.counters.requests;
    for (const id of [3, -1, 0.5, Number.NaN]) {
      await expect(reset.reset(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(reset.assert(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(reset.deassert(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(reset.notify(id, true)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(() => reset.domains.info(id)).toThrow(ScmiError);
    }
    for (const resetState of [-(2 ** 31) - 1, 2 ** 32, 1.5]) {
      await expect(reset.reset(0, { resetState })).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('reads an extended name with RESET_DOMAIN_NAME_GET, and keeps the short one when that fails', async () => {
    const config = createDefaultPlatformConfig();
    const { reset } = await probe({
      platformConfig: validatePlatformConfig({
        ...config,
        devices: [],
        resetDomains: [{ name: 'gpu-core-and-shader-array' }, { name: 'display-controller-0' }],
      }),
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.DOMAIN_NAME_GET, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const [gpu, display] = reset.domains.list;
    expect(gpu).toMatchObject({ name: 'gpu-core-and-shader-array' });
    expect(gpu).not.toHaveProperty('nameError');
    // The short name is the first 15 characters; the NAME_GET error is kept beside it.
    expect(display?.name).toBe('display-control');
    expect(display?.nameError).toBeInstanceOf(ScmiStatusError);
  });

  it('records a domain the platform fails to describe, and goes on with the others', async () => {
    const { h, reset } = await probe({
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.DOMAIN_ATTRIBUTES, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    expect(reset.domains.list.map((d) => d.id)).toEqual([0, 2]);
    expect(reset.domains.failures.get(1)).toBeInstanceOf(ScmiStatusError);
    let thrown: unknown;
    try {
      reset.domains.info(1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect((thrown as Error).cause).toBe(reset.domains.failures.get(1));
    const requests = h.platform.counters.requests;
    await expect(reset.reset(1)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('counts a short RESET_DOMAIN_ATTRIBUTES reply as malformed and records the domain failed', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.DOMAIN_ATTRIBUTES, nth: 1 },
          action: { kind: 'truncate', length: 8 + 8 + 4 }, // header, status, attributes, latency, 4 of 16 name bytes
        },
      ],
    });
    const agent = await h.create();
    const reset = agent.protocol(resetProtocolDriver);
    const error = reset.domains.failures.get(0);
    expect(error).toBeInstanceOf(ScmiMalformedError);
    expect(error).toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ reset: 1 });
    expect(reset.domains.list.map((d) => d.id)).toEqual([1, 2]);
  });

  it('fails to initialize when PROTOCOL_ATTRIBUTES fails: the agent goes on without it', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: 0x1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const agent = await h.create();
    expect(agent.protocolErrors.get(RESET)).toBeInstanceOf(ScmiStatusError);
    expect(() => agent.protocol(resetProtocolDriver)).toThrow(
      expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
    );
    await agent.remove();
  });

  it('delivers RESET_ISSUED to a subscriber, enabling only the domain subscribed to', async () => {
    h = createHarness({ drivers: [resetProtocolDriver] });
    const agent = await h.create();
    const reset = agent.protocol(resetProtocolDriver);
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: RESET, eventId: RESET_ISSUED, source: 1 },
      (n) => {
        got.push(n);
      },
    );
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: RESET, notificationId: RESET_ISSUED, domainId: 1 },
    ]);
    await reset.reset(1);
    await reset.reset(2); // not subscribed: not sent
    await h.clock.runUntilIdle();
    expect(got.map((n) => decodeResetIssued(n.payload))).toEqual([
      { agentId: 1, domainId: 1, resetState: 0 },
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('enables every domain that announces RESET_ISSUED for an every-source subscriber', async () => {
    h = createHarness({ drivers: [resetProtocolDriver] });
    const agent = await h.create();
    const off = await agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED }, () => {
      /* counted by the platform's subscriptions */
    });
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0, 1, 2]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('refuses to subscribe to a domain that does not announce RESET_ISSUED, sending nothing', async () => {
    // Without a P2A channel the platform announces no notification: every domain's bit 30 is clear.
    // Subscribing then fails in core (no P2A); the driver's own refusal is seen through notify's
    // descriptor, exercised here with a P2A wire and a platform that clears bit 30 of domain 2.
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.DOMAIN_ATTRIBUTES, nth: 3 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [0, 0, 0, 0] },
        },
      ],
    });
    const agent = await h.create();
    expect(agent.protocol(resetProtocolDriver).domains.info(2).notifications).toBe(false);
    const requests = h.platform.counters.requests;
    await expect(
      agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED, source: 2 }, () => {
        /* never */
      }),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    expect(h.platform.counters.requests).toBe(requests);
    // Every source: domains 0 and 1 only.
    const off = await agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED }, () => {
      /* counted by the platform's subscriptions */
    });
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0, 1]);
    await off();
    await agent.remove();
  });

  it('resets synchronously on a wire without a P2A channel, where no delayed response can come', async () => {
    const { h, reset } = await probe({ wire: { a2p: [0], p2a: [] } });
    expect(reset.domains.info(0)).toMatchObject({ asyncReset: false, notifications: false });
    await reset.reset(0);
    expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    expect(h.platform.snapshot().resetDomains[0]?.resets).toBe(1);
  });

  it('refuses every command once the agent is removed', async () => {
    h = createHarness({ drivers: [resetProtocolDriver] });
    const agent = await h.create();
    const reset = agent.protocol(resetProtocolDriver);
    await agent.remove();
    await expect(reset.reset(1)).rejects.toBeInstanceOf(RevokedError);
  });

  it('decodes RESET_ISSUED and refuses a short payload', () => {
    const payload = new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0x80]);
    expect(decodeResetIssued(payload)).toEqual({
      agentId: 2,
      domainId: 1,
      resetState: 0x80000007,
    });
    expect(() => decodeResetIssued(payload.subarray(0, 8))).toThrow(ScmiMalformedError);
  });
});
