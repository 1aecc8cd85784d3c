import { Container } from 'inversify';
import { CLOCK, VirtualClock, coreModule, createAgent, type ScmiAgent } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SmtArea,
  createSameThreadMailboxWire,
  mailboxTransportModule,
} from '@scmi-ts/mailbox-transport';
import { defined } from './harness.js';

/**
 * A platform end driven by hand over a same-thread mailbox wire: the test decides when the
 * platform answers (`onRequest`, `answer`) and rings (`ringA2p`, `ringP2a`), as a hostile or slow
 * firmware would. The agent's channel ids: one A2P, one P2A.
 */
export interface Hand {
  clock: VirtualClock;
  a2p: SmtArea;
  p2a: SmtArea;
  ringA2p(): void;
  ringP2a(): void;
  /**
   * From now on the platform keeps its answers instead of writing them (`onRequest` replaced);
   * returns what gives the last one kept, for the test to `answer` when it chooses.
   */
  holdAnswers(): () => Uint8Array | undefined;
  /** Called on each agent ring of A2P with a request; default answers normally. */
  onRequest: (request: Uint8Array, response: Uint8Array | undefined) => void;
  answer(response: Uint8Array): void;
  p2aRingsBack: number;
  agent(options?: Record<string, unknown>): Promise<ScmiAgent>;
  /** {@link Hand.agent} on a manual clock (`createHand(false)`): runs the clock until it probed. */
  probe(options?: Record<string, unknown>): Promise<ScmiAgent>;
  platform: ScmiPlatform;
  wire: ReturnType<typeof createSameThreadMailboxWire>;
}

/** A hand-driven platform end and a factory for agents over it (`auto`: the virtual clock's). */
export function createHand(auto = true): Hand {
  const clock = new VirtualClock({ auto });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = createSameThreadMailboxWire(clock, { a2p: [0], p2a: [0] });
  const layout = wire.platformEnd.layout;
  const a2pSpec = defined(layout.channels.find((c) => c.direction === 'a2p'));
  const p2aSpec = defined(layout.channels.find((c) => c.direction === 'p2a'));
  const a2p = new SmtArea(layout.memory, a2pSpec.offset, layout.areaSize);
  const p2a = new SmtArea(layout.memory, p2aSpec.offset, layout.areaSize);
  const ra = wire.platformEnd.remote(a2pSpec.mailbox);
  const rp = wire.platformEnd.remote(p2aSpec.mailbox);
  platform.connect(1, {
    p2a: true,
    maxMsgSize: 128,
    respond: () => undefined,
    post: () => false,
  });
  const hand: Hand = {
    clock,
    a2p,
    p2a,
    platform,
    wire,
    p2aRingsBack: 0,
    ringA2p: () => ra.ring(),
    ringP2a: () => rp.ring(),
    answer(response: Uint8Array) {
      a2p.bytes.set(response.subarray(0, a2p.maxLength), SMT_HEADER_OFFSET);
      a2p.setLength(Math.min(response.byteLength, a2p.maxLength));
      a2p.setStatus(SMT_CHANNEL_FREE);
      if ((a2p.flags() & SMT_FLAG_INTR_ENABLED) !== 0) ra.ring();
    },
    onRequest: (_req, response) => {
      if (response !== undefined) hand.answer(response);
    },
    holdAnswers() {
      let held: Uint8Array | undefined;
      hand.onRequest = (_req, response) => {
        held = response;
      };
      return () => held;
    },
    probe: async (options = {}) => {
      const probing = hand.agent(options);
      await clock.runUntilIdle();
      return probing;
    },
    agent: (options = {}) => {
      const container = new Container();
      container.load(coreModule, mailboxTransportModule);
      container.rebind(CLOCK).toConstantValue(clock);
      return createAgent(container, {
        transport: 'mailbox',
        transportConfig: { wire: wire.wire },
        ...options,
      });
    },
  };
  ra.listen(() => {
    if (a2p.isFree()) return;
    const length = a2p.length();
    const request = a2p.bytes.slice(
      SMT_HEADER_OFFSET,
      SMT_HEADER_OFFSET + Math.min(length, a2p.maxLength),
    );
    const response = platform.handle(1, 0, request);
    hand.onRequest(request, response);
  });
  rp.listen(() => {
    hand.p2aRingsBack++;
  });
  return hand;
}
