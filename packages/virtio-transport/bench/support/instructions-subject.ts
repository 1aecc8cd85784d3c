/**
 * One subject of the instruction-count benchmark (`../instructions.ts`), in one process, device in
 * the same thread: `floor` (the bare virtqueues, `as-answered`), `awaited-floor` (the same, each
 * command awaited by its sender: `FloorDriver.runAwaited`), `no-core` (the real device and
 * platform driven by the bare driver) or `scmi` (core, the transport, the device and the
 * platform). It runs `warmUp` round trips at `depth`, then `n` more, and exits; the parent runs it
 * under callgrind twice with two values of `n`, so that start-up, warm-up and teardown cancel out.
 *
 * Usage: node instructions-subject.js <floor|awaited-floor|no-core|scmi> <depth> <warmUp> <n>
 */
import { CLOCK, RealClock, coreModule, createAgent } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { Container } from 'inversify';
import { VirtioScmiDevice, VirtioScmiWire, virtioTransportModule } from '../../src/index.js';
import { FloorDevice, FloorDriver } from './floor.js';
import { protocolVersionLoops } from './scmi-loops.js';

/** What the benchmark can count (`../instructions.ts` names the same). */
const INSTRUCTION_SUBJECTS = ['floor', 'awaited-floor', 'no-core', 'scmi'] as const;
type InstructionSubject = (typeof INSTRUCTION_SUBJECTS)[number];

const CMDQ = 128;
const WIRE = { cmdqSize: CMDQ, eventqSize: 16 };

/** A subject ready to run: `run(depth, n)` round trips, then `close()`. */
interface Ready {
  run(depth: number, n: number): Promise<void>;
  close(): Promise<void>;
}

async function prepare(subject: InstructionSubject, clock: RealClock): Promise<Ready> {
  const wire = VirtioScmiWire.sameThread(clock, WIRE);
  if (subject === 'floor' || subject === 'awaited-floor') {
    const device = new FloorDevice(wire, CMDQ, true, 'as-answered');
    const driver = new FloorDriver(wire, CMDQ, true, 'as-answered');
    return {
      run: (depth, n) => (subject === 'floor' ? driver.run(depth, n) : driver.runAwaited(depth, n)),
      close: () => {
        driver.close();
        device.close();
        return Promise.resolve();
      },
    };
  }
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
  if (subject === 'no-core') {
    const driver = new FloorDriver(wire, CMDQ, true);
    await driver.handshake(CMDQ);
    return {
      run: (depth, n) => driver.run(depth, n),
      close: () => {
        driver.close();
        device.close();
        platform.close();
        return Promise.resolve();
      },
    };
  }
  const container = new Container();
  container.load(coreModule, virtioTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const agent = await createAgent(container, {
    transport: 'virtio',
    maxMsg: CMDQ / 2,
    rxTimeoutMs: 5000,
    transportConfig: { wire },
  });
  const ops = agent.xfer(0x10); // Base
  return {
    // As the time benchmark's scmi subject: `depth` loops of PROTOCOL_VERSION, each awaited.
    run: (depth, n) => protocolVersionLoops(ops, depth, n),
    close: async () => {
      await agent.remove();
      device.close();
      platform.close();
    },
  };
}

async function main(): Promise<void> {
  const [subject, depth, warmUp, n] = process.argv.slice(2);
  const known: readonly string[] = INSTRUCTION_SUBJECTS;
  const counts = [depth, warmUp, n].map(Number);
  if (subject === undefined || !known.includes(subject) || counts.some((c) => !(c >= 0))) {
    console.error(
      'usage: node instructions-subject.js <floor|awaited-floor|no-core|scmi> <depth> <warmUp> <n>',
    );
    process.exitCode = 2;
    return;
  }
  const [d, w, k] = counts as [number, number, number];
  const ready = await prepare(subject as InstructionSubject, new RealClock());
  if (w > 0) await ready.run(Math.max(1, d), w);
  if (k > 0) await ready.run(Math.max(1, d), k);
  await ready.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
