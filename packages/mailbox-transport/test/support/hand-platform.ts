import { Container } from 'inversify';
import {
  CLOCK,
  VirtualClock,
  coreModule,
  createAgent,
  packHeader,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SmtArea,
  createSameThreadMailboxWire,
  createSharedMailboxWire,
  mailboxTransportModule,
  openSharedPlatformEnd,
  type MailboxController,
  type SharedMailboxWire,
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

/** Posts a delayed response with `token` (Base `messageId`, SUCCESS) into the P2A area, and rings. */
export function postDelayed(h: Hand, messageId: number, token: number): void {
  h.p2a.setHeader(packHeader({ messageId, type: 2, protocolId: 0x10, token }));
  h.p2a.writePayload(new Uint8Array(4), 0, 4); // status SUCCESS
  h.p2a.setLength(8);
  h.p2a.setStatus(0); // the agent's to read
  h.ringP2a();
}

/** The command the agent wrote into `a2p` (header and payload), as the platform reads it. */
function requestIn(a2p: SmtArea): Uint8Array {
  return a2p.bytes.slice(
    SMT_HEADER_OFFSET,
    SMT_HEADER_OFFSET + Math.min(a2p.length(), a2p.maxLength),
  );
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
    const request = requestIn(a2p);
    const response = platform.handle(1, 0, request);
    hand.onRequest(request, response);
  });
  rp.listen(() => {
    hand.p2aRingsBack++;
  });
  return hand;
}

/**
 * {@link createHand} over a wire across threads (`createSharedMailboxWire`), with the platform end
 * opened on this thread: the agent's side is the worker-mode one (`SharedMailboxController`,
 * doorbells on `Atomics`, delivered on later event-loop turns), and the test plays the platform's
 * thread, choosing exactly when each ring is made relative to what the agent's side saw. Core's
 * clock is a manual `VirtualClock`: {@link SharedHand.until} runs its tasks between event-loop
 * turns. One A2P channel (id 0); the agents it makes have no P2A channel.
 */
export interface SharedHand {
  clock: VirtualClock;
  a2p: SmtArea;
  platform: ScmiPlatform;
  wire: SharedMailboxWire;
  /** Times the agent's A2P channel was called back for a ring, and the ring counts it was given. */
  readonly deliveries: (number | undefined)[];
  ringA2p(): void;
  holdAnswers(): () => Uint8Array | undefined;
  /** Writes `response` and sets CHANNEL_FREE, without ringing (see {@link Hand.answer}). */
  land(response: Uint8Array): void;
  /** Runs the clock's tasks on each event-loop turn until `cond` holds (bounded). */
  until(cond: () => boolean, what: string): Promise<void>;
  /** Lets the event loop turn a few times (and the clock's tasks run): rings land by then. */
  settle(): Promise<void>;
  probe(options?: Record<string, unknown>): Promise<ScmiAgent>;
  /** Removes `agent` (once; later calls wait for the same removal), running the clock meanwhile. */
  remove(agent: ScmiAgent): Promise<void>;
  /** Closes the platform end and the platform. */
  close(): void;
}

/** Builds a {@link SharedHand}. */
export function createSharedHand(): SharedHand {
  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = createSharedMailboxWire({ a2p: [0], p2a: [0] });
  const end = openSharedPlatformEnd(wire.spec);
  const a2pSpec = defined(end.layout.channels.find((c) => c.direction === 'a2p'));
  const a2p = new SmtArea(end.layout.memory, a2pSpec.offset, end.layout.areaSize);
  const ra = end.remote(a2pSpec.mailbox);
  platform.connect(1, { p2a: false, maxMsgSize: 128, respond: () => undefined, post: () => false });
  const deliveries: (number | undefined)[] = [];
  // The agent's controller, with its A2P channel's client watched (every ring delivered to it).
  const controller = Object.create(wire.controller) as MailboxController;
  controller.requestChannel = (index, client) =>
    wire.controller.requestChannel(
      index,
      index !== a2pSpec.mailbox
        ? client
        : {
            get knowsTxDone() {
              return client.knowsTxDone === true;
            },
            rxCallback: (rings?: number) => {
              deliveries.push(rings);
              client.rxCallback(rings);
            },
            rxIgnored: () => client.rxIgnored?.(),
            remoteGone: () => client.remoteGone?.(),
          },
    );
  let onRequest: (response: Uint8Array | undefined) => void = (response) => {
    if (response !== undefined) hand.land(response);
    ra.ring();
  };
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 20_000; i++) {
      await clock.runTasks();
      if (cond()) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`never: ${what}`);
  };
  const removals = new Map<ScmiAgent, Promise<void>>();
  const hand: SharedHand = {
    clock,
    a2p,
    platform,
    wire,
    deliveries,
    ringA2p: () => ra.ring(),
    holdAnswers() {
      let held: Uint8Array | undefined;
      onRequest = (response) => {
        held = response;
      };
      return () => held;
    },
    land(response: Uint8Array) {
      a2p.bytes.set(response.subarray(0, a2p.maxLength), SMT_HEADER_OFFSET);
      a2p.setLength(Math.min(response.byteLength, a2p.maxLength));
      a2p.setStatus(SMT_CHANNEL_FREE);
    },
    until,
    settle: async () => {
      for (let i = 0; i < 50; i++) {
        await clock.runTasks();
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    probe: async (options = {}) => {
      const container = new Container();
      container.load(coreModule, mailboxTransportModule);
      container.rebind(CLOCK).toConstantValue(clock);
      let agent: ScmiAgent | undefined;
      let failed: Error | undefined;
      createAgent(container, {
        transport: 'mailbox',
        transportConfig: {
          wire: { layout: wire.wire.layout, controller, monitor: wire.wire.monitor },
        },
        p2a: false,
        ...options,
      }).then(
        (a) => {
          agent = a;
        },
        (e: unknown) => {
          failed = e instanceof Error ? e : new Error('the probe failed', { cause: e });
        },
      );
      await until(() => agent !== undefined || failed !== undefined, 'the agent probed');
      if (failed !== undefined) throw failed;
      return defined(agent);
    },
    remove: async (agent) => {
      let removing = removals.get(agent);
      if (removing === undefined) {
        let removed = false;
        removing = agent.remove().finally(() => {
          removed = true;
        });
        removals.set(agent, removing);
        await until(() => removed, 'the agent removed');
      }
      await removing;
    },
    close: () => {
      ra.close();
      platform.close();
    },
  };
  ra.listen(() => {
    if (a2p.isFree()) return;
    onRequest(platform.handle(1, 0, requestIn(a2p)));
  });
  return hand;
}
