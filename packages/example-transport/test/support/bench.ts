import { Container } from 'inversify';
import {
  CLOCK,
  VirtualClock,
  coreModule,
  createAgent,
  type AgentOptions,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import {
  MsgqResponder,
  createSameThreadMsgqWire,
  msgqTransportModule,
  type MsgqWireOptions,
  type SameThreadMsgqWire,
} from '@scmi-ts/example-transport';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';

/** A same-thread msgq wire to the emulated platform on a virtual clock, and a container. */
export interface Bench {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly wire: SameThreadMsgqWire;
  readonly responder: MsgqResponder;
  readonly container: Container;
  /** The agent {@link Bench.probe} made, if any. */
  agent: ScmiAgent | undefined;
  /** Probes an agent over the wire (the agent options given override the defaults). */
  probe(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /** Removes the agent, closes the responder and the platform. */
  close(): Promise<void>;
}

/** A new {@link Bench} over a wire of `wireOptions`. */
export function createBench(wireOptions: MsgqWireOptions = {}): Bench {
  const clock = new VirtualClock({ auto: true });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = createSameThreadMsgqWire(clock, wireOptions);
  const responder = new MsgqResponder({ platform, agentId: 1, end: wire.platform });
  const container = new Container();
  container.load(coreModule, msgqTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const bench: Bench = {
    clock,
    platform,
    wire,
    responder,
    container,
    agent: undefined,
    probe: async (options = {}) => {
      const agent = await createAgent(container, {
        transport: 'msgq',
        transportConfig: { end: wire.agent },
        ...options,
      });
      bench.agent = agent;
      return agent;
    },
    close: async () => {
      await bench.agent?.remove();
      responder.close();
      platform.close();
    },
  };
  return bench;
}

/** The counters of `agent`'s channel `label` (`a2p:0`, `p2a:0`). */
export function stats(agent: ScmiAgent, label: string): ChannelStats {
  const channel = agent.diagnostics.channels.find((c) => c.label === label);
  if (channel === undefined) throw new Error(`no channel ${label}`);
  return channel.stats;
}

/** Every bad message of `s`, whatever the reason. */
export function badMessages(s: ChannelStats): number {
  return Object.values(s.badMessages).reduce((n, v) => n + v, 0);
}

/**
 * From now on the platform side of A2P channel 0 is `answer`: the responder is closed, and each
 * command gets the replies `answer` returns.
 */
export function answerByHand(bench: Bench, answer: (request: Uint8Array) => Uint8Array[]): void {
  bench.responder.close();
  bench.wire.platform.listen('a2p', 0, {
    message: (request) => {
      for (const reply of answer(request)) bench.wire.platform.send('a2p', 0, reply);
    },
    gone: () => undefined,
  });
}
