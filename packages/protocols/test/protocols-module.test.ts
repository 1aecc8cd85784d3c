import { Container } from 'inversify';
import { CLOCK, VirtualClock, coreModule, createAgent, type ScmiAgent } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
} from '@scmi-ts/mailbox-transport';
import {
  PROTOCOL_DRIVERS,
  RESET_ISSUED,
  ResetMessageId,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  protocolsModule,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { DENIED } from './support/wire-bytes.js';
import { createHarness, type Harness } from './support/harness.js';
import { spyRequests } from './support/spy-requests.js';

const RESET = 0x16;

describe('protocolsModule', () => {
  it('binds every driver, in protocol id order, and an agent instantiates each protocol its platform lists', async () => {
    expect(PROTOCOL_DRIVERS.map((d) => d.protocolId)).toEqual([
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    ]);
    const clock = new VirtualClock({ auto: true });
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const mailbox = createSameThreadMailboxWire(clock, { a2p: [0], p2a: [0] });
    const responder = new SmtResponder({ platform, agentId: 1, end: mailbox.platformEnd, clock });
    const container = new Container();
    container.load(coreModule, mailboxTransportModule, protocolsModule);
    container.rebind(CLOCK).toConstantValue(clock);
    let agent: ScmiAgent | undefined;
    try {
      agent = await createAgent(container, {
        transport: 'mailbox',
        transportConfig: { wire: mailbox.wire },
      });
      expect(agent.protocolErrors.size).toBe(0);
      // Voltage (0x17) is bound too, and initialized when the emulated platform lists it (its
      // Voltage server is being added; voltage-protocol.test.ts runs the client against a
      // test-only one meanwhile).
      const voltage = agent.info.protocols.includes(0x17) ? [0x17] : [];
      expect([...agent.protocolIds].sort()).toEqual([
        0x11,
        0x12,
        0x13,
        0x14,
        0x15,
        0x16,
        ...voltage,
      ]);
      expect(agent.protocol(powerProtocolDriver).domains.count).toBe(3);
      expect(agent.protocol(systemPowerProtocolDriver).version).toBe(0x20001);
      expect(agent.protocol(performanceProtocolDriver).domains.count).toBe(2);
      expect(agent.protocol(clockProtocolDriver).domains.count).toBe(4);
      expect(agent.protocol(sensorProtocolDriver).domains.count).toBe(4);
      expect(agent.protocol(resetProtocolDriver).domains.count).toBe(3);
      // Nothing the platform sent was refused as malformed.
      expect(agent.diagnostics.malformedReplies).toEqual({});
    } finally {
      await agent?.remove();
      responder.close();
      platform.close();
    }
    expect(platform.armedTimers).toBe(0);
  });
});

describe('every-source notification enable', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('succeeds when one domain was enabled though another refused, as Linux counts a source enabled per success', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.NOTIFY, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const agent = await h.create();
    const issued: number[] = [];
    const off = await agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED }, (n) => {
      issued.push(n.source ?? -1);
    });
    // Domain 1's RESET_NOTIFY answered DENIED (the platform subscribed it all the same: the fault
    // rewrites the answer only); the subscribe stands on domains 0 and 2.
    expect(h.platform.faults.log.map((f) => f.messageId)).toEqual([ResetMessageId.NOTIFY]);
    await agent.protocol(resetProtocolDriver).reset(2);
    await h.clock.runUntilIdle();
    expect(issued).toEqual([2]);
    await off();
    await agent.remove();
  });

  it('has a subscriber of a domain that refused the every-source enable send its own, and no other domain', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: RESET, messageId: ResetMessageId.NOTIFY, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const notifies = spyRequests(h, RESET, ResetMessageId.NOTIFY);
    const agent = await h.create();
    await agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED }, () => undefined);
    expect(notifies).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    // Domains 0 and 2 are sent for the every-source subscriber: nothing to send for them.
    await agent.events.subscribe(
      { protocolId: RESET, eventId: RESET_ISSUED, source: 0 },
      () => undefined,
    );
    // Domain 1 refused (as Linux keeps its count at 0): its own subscriber enables it again.
    const issued: number[] = [];
    await agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED, source: 1 }, (n) => {
      issued.push(n.source ?? -1);
    });
    expect(notifies.slice(3)).toEqual([[1, 1]]);
    await agent.protocol(resetProtocolDriver).reset(1);
    await h.clock.runUntilIdle();
    expect(issued).toEqual([1]);
    await agent.remove();
  });

  it('fails with the first refusal when every domain refused', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver],
      // Domain 0 refused DENIED (-3), domain 1 NOT_FOUND (-4), domain 2 BUSY (-6).
      platformFaults: [
        [1, DENIED],
        [2, [0xfc, 0xff, 0xff, 0xff]],
        [3, [0xfa, 0xff, 0xff, 0xff]],
      ].map(([nth, bytes]) => ({
        match: { protocolId: RESET, messageId: ResetMessageId.NOTIFY, nth: nth as number },
        action: { kind: 'corrupt-bytes' as const, offset: 4, bytes: bytes as number[] },
      })),
    });
    const agent = await h.create();
    await expect(
      agent.events.subscribe({ protocolId: RESET, eventId: RESET_ISSUED }, () => {
        /* never */
      }),
    ).rejects.toMatchObject({ status: -3 });
    // Each domain was asked, and each refusal seen.
    expect(h.platform.faults.log).toHaveLength(3);
    await agent.remove();
  });
});
