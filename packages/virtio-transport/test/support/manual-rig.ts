import {
  CLOCK,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  coreModule,
  createAgent,
  encodeMsg,
  type AgentOptions,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { VirtioScmiWire, virtioTransportModule } from '@scmi-ts/virtio-transport';
import { Container } from 'inversify';
import { ManualDevice } from './manual-device.js';

/** A same-thread wire with a {@link ManualDevice} at its device end, and a way to probe agents. */
export interface ManualRig {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly wire: VirtioScmiWire;
  readonly device: ManualDevice;
  /** Probes an agent over the wire (30 ms RX timeout, 8 messages, 50 ms handshake and reset). */
  readonly create: (o?: Partial<AgentOptions>) => Promise<ScmiAgent>;
  /** `create` on a manual clock (`manualRig(false)`): runs the clock until the agent probed. */
  readonly probe: (o?: Partial<AgentOptions>) => Promise<ScmiAgent>;
}

/** A {@link ManualRig} on a virtual clock (`auto` advances it by itself), eventq of 4 entries by default. */
export function manualRig(auto = true, cmdqSize = 16, eventqSize = 4): ManualRig {
  const clock = new VirtualClock({ auto });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = VirtioScmiWire.sameThread(clock, { cmdqSize, eventqSize });
  const device = new ManualDevice(wire, clock, platform);
  const container = new Container();
  container.load(coreModule, virtioTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const create = (o: Partial<AgentOptions> = {}): Promise<ScmiAgent> =>
    createAgent(container, {
      transport: 'virtio',
      rxTimeoutMs: 30,
      maxMsg: 8,
      transportConfig: { wire, handshakeTimeoutMs: 50, resetTimeoutMs: 50 },
      ...o,
    });
  const probe = async (o: Partial<AgentOptions> = {}): Promise<ScmiAgent> => {
    const probing = create(o);
    await clock.runUntilIdle();
    return probing;
  };
  return { clock, platform, wire, device, create, probe };
}

/** A Base notification (message 0, 8 bytes of payload) as the device posts it on the eventq. */
export const BASE_NOTIFICATION = encodeMsg(
  buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
  new Uint8Array(8),
);
