import type { ProtocolDriver } from '@scmi-ts/core';
import type { FaultRule } from '@scmi-ts/platform';
import {
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { createHarness, type Harness } from './support/harness.js';

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

  it.each<[string, ProtocolDriver, number, number]>([
    ['power', powerProtocolDriver, 0x11, 0x30001],
    ['sensor', sensorProtocolDriver, 0x15, 0x30001],
    ['reset', resetProtocolDriver, 0x16, 0x30001],
    ['system power', systemPowerProtocolDriver, 0x12, 0x20001],
  ])(
    'should drive a %s platform reporting its v3.2 minor at that version, not negotiate down',
    async (_, driver, protocolId, version) => {
      expect(driver.version).toBe(version);
      h = createHarness({ drivers: [driver], platformFaults: [reports(protocolId, version)] });
      const agent = await h.create();
      const client = agent.protocol(driver) as {
        version: number;
        versionSource: string;
      };
      expect([client.version, client.versionSource]).toEqual([version, 'platform']);
    },
  );
});
