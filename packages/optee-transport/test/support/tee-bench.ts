import { VirtualClock } from '@scmi-ts/core';
import {
  ScmiPlatform,
  createDefaultPlatformConfig,
  type ScmiPlatformOptions,
} from '@scmi-ts/platform';
import {
  EmulatedOptee,
  OpteeDriver,
  createSameThreadOpteeWire,
  openTeeContext,
  type EmulatedOpteeOptions,
  type OpteeDriverOptions,
  type OpteeWireOptions,
  type SameThreadOpteeWire,
  type TeeContext,
} from '../../src/index.js';

/** A same-thread TEE for the client API and PTA tests: wire, emulated OP-TEE, driver, context. */
export interface TeeBench {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly wire: SameThreadOpteeWire;
  readonly optee: EmulatedOptee;
  readonly driver: OpteeDriver;
  readonly context: TeeContext;
  close(): Promise<void>;
}

/** Builds a {@link TeeBench}; the clock runs by itself unless `auto` is false. */
export function createTeeBench(
  options: {
    auto?: boolean;
    wire?: OpteeWireOptions;
    driver?: OpteeDriverOptions;
    optee?: Partial<Omit<EmulatedOpteeOptions, 'wire' | 'platform' | 'clock' | 'agentId'>>;
    platform?: Partial<Omit<ScmiPlatformOptions, 'clock'>>;
  } = {},
): TeeBench {
  const clock = new VirtualClock({ auto: options.auto ?? true });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), {
    clock,
    behaviour: { unknownMessage: 'not-supported', unknownDomain: 'invalid-parameters' },
    ...options.platform,
  });
  const wire = createSameThreadOpteeWire(
    clock,
    options.wire ?? { channels: [{ id: 0, staticShmem: true }, { id: 1 }] },
  );
  const optee = new EmulatedOptee({
    wire: wire.tee,
    platform,
    agentId: 1,
    clock,
    ...options.optee,
  });
  const driver = new OpteeDriver(wire.ree, options.driver);
  const context = openTeeContext(driver);
  return {
    clock,
    platform,
    wire,
    optee,
    driver,
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      driver.close();
      optee.close();
      platform.close();
    },
  };
}
