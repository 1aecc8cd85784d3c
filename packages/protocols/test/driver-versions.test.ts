import type { ProtocolDriver } from '@scmi-ts/core';
import type { FaultRule } from '@scmi-ts/platform';
import {
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

/** PROTOCOL_VERSION of `protocolId` answered `version` (header, status, then the version word). */
function reports(protocolId: number, version: number): FaultRule {
  return {
    match: { protocolId, messageId: 0x0 },
    action: {
      kind: 'corrupt-bytes',
      offset: 8,
      bytes: [version & 0xff, (version >>> 8) & 0xff, (version >>> 16) & 0xff, version >>> 24],
    },
  };
}

describe('driver versions (SCMI v3.2 minors, as Linux has them)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const drivers: [string, ProtocolDriver, number, number][] = [
    ['power', powerProtocolDriver, 0x11, 0x30001],
    ['sensor', sensorProtocolDriver, 0x15, 0x30001],
    ['reset', resetProtocolDriver, 0x16, 0x30001],
    ['system power', systemPowerProtocolDriver, 0x12, 0x20001],
  ];

  /** The version a client settled on, and where it comes from. */
  async function settled(driver: ProtocolDriver, options: HarnessOptions = {}): Promise<unknown[]> {
    h = createHarness({ drivers: [driver], ...options });
    const agent = await h.create();
    const client = agent.protocol(driver) as { version: number; versionSource: string };
    return [client.version, client.versionSource];
  }

  it.each(drivers)(
    'should drive a %s platform reporting its v3.2 minor at that version, not negotiate down',
    async (_, driver, protocolId, version) => {
      expect(driver.version).toBe(version);
      // The emulated platform reports it itself (SCMI v3.2), and a platform made to say so too.
      expect(await settled(driver)).toEqual([version, 'platform']);
      await h?.close();
      const faults = [reports(protocolId, version)];
      expect(await settled(driver, { platformFaults: faults })).toEqual([version, 'platform']);
    },
  );

  it.each(drivers)(
    'should negotiate a %s driver of the older minor down on the v3.2 platform (an older Linux)',
    async (_, driver, _id, version) => {
      const older: ProtocolDriver = { ...driver, version: version - 1 };
      expect(await settled(older)).toEqual([version - 1, 'negotiated']);
    },
  );

  it.each(drivers)(
    'should take the older minor of a %s platform without version negotiation (SCMI v3.1)',
    async (_, driver, _id, version) => {
      const platformBehaviour = { versionNegotiation: false };
      expect(await settled(driver, { platformBehaviour })).toEqual([version - 1, 'platform']);
    },
  );

  it('should go best-effort when the platform refuses to negotiate a major it does not speak', async () => {
    // Power 2.0 (SCP-firmware's; Power 3.0 added extended names): not spoken by the platform.
    const v2: ProtocolDriver = { ...powerProtocolDriver, version: 0x20000 };
    expect(await settled(v2)).toEqual([0x20000, 'best-effort']);
  });
});
