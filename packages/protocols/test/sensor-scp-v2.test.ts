/**
 * SCP-firmware's SENSOR_V2 builds send every sensor descriptor at 52 bytes (`struct
 * scmi_sensor_desc`, `module/scmi_sensor/include/internal/scmi_sensor.h`) and every axis
 * descriptor at 48, whatever their extended-attributes bit says: the client reads such parts at
 * that fixed size, and a platform that follows the specification exactly as before.
 */
import { SensorMessageId, sensorProtocolDriver, type SensorInfo } from '../src/index.js';
import type { FaultRule } from '@scmi-ts/platform';
import { createHarness, type Harness } from './support/harness.js';

const SENSOR = 0x15;
const version2: FaultRule = {
  match: { protocolId: SENSOR, messageId: 0x0 },
  action: { kind: 'corrupt-bytes', offset: 8, bytes: [0, 0, 2, 0] },
};
const EXTENDED_ATTRS = 1 << 8;
const AXIS_SUPPORT = 1 << 8;

/** The size the specification gives a sensor descriptor starting at `at`. */
function specDescriptorSize(v: DataView, at: number): number {
  const low = v.getUint32(at + 4, true);
  const high = v.getUint32(at + 8, true);
  const axes = (high & AXIS_SUPPORT) !== 0 ? (high >>> 16) & 0x3f : 0;
  if ((low & EXTENDED_ATTRS) === 0) return 28;
  return axes === 0 ? 52 : 32;
}

/** The size the specification gives an axis descriptor starting at `at`. */
function specAxisSize(v: DataView, at: number): number {
  return (v.getUint32(at + 4, true) & EXTENDED_ATTRS) !== 0 ? 48 : 28;
}

/**
 * Rewrites the emulated platform's (specification-sized) descriptors into SCP-firmware's fixed
 * ones: each padded to `size` with the defaults SCP-firmware writes for attributes it lacks (power
 * and resolution 0, the widest range), two per part so that a part fits the 128-byte message.
 */
function relayout(
  response: Uint8Array,
  size: number,
  specSize: (v: DataView, at: number) => number,
  counts: (flags: number) => [returned: number, remaining: number],
  flagsOf: (returned: number, remaining: number) => number,
  padOnly = false,
): Uint8Array {
  const v = new DataView(response.buffer, response.byteOffset, response.byteLength);
  if (v.getInt32(4, true) !== 0) return response; // an error status: as it is
  const [returned, remaining] = counts(v.getUint32(8, true));
  const kept = Math.min(returned, 2);
  const out = new Uint8Array(12 + kept * size);
  const o = new DataView(out.buffer);
  out.set(response.subarray(0, 8));
  o.setUint32(8, flagsOf(kept, remaining + returned - kept), true);
  let from = 12;
  if (padOnly) {
    // The specification's descriptors one after the other, then zeroes up to `size × kept`.
    let end = 12;
    for (let i = 0; i < kept; i++) end += specSize(v, end);
    out.set(response.subarray(12, end), 12);
    return out;
  }
  for (let i = 0; i < kept; i++) {
    const at = 12 + i * size;
    const n = specSize(v, from);
    // SCP-firmware's defaults for what the descriptor does not carry (SCMI 3.0's): min range
    // 0x80000000_00000000, max range 0x7fffffff_ffffffff, at the end of the descriptor.
    o.setUint32(at + size - 12, 0x80000000, true);
    o.setUint32(at + size - 8, 0xffffffff, true);
    o.setUint32(at + size - 4, 0x7fffffff, true);
    out.set(response.subarray(from, from + n), at);
    from += n;
  }
  return out;
}

/** Makes the harness's platform answer SENSOR_(AXIS_)DESCRIPTION_GET as SCP-firmware's SENSOR_V2. */
function scpSensorV2(h: Harness, padOnly: boolean): { parts: number[] } {
  const seen = { parts: [] as number[] };
  const handle = h.platform.handle.bind(h.platform);
  jest.spyOn(h.platform, 'handle').mockImplementation((agentId, channelId, request) => {
    const response = handle(agentId, channelId, request);
    const header = new DataView(request.buffer, request.byteOffset).getUint32(0, true);
    if (response === undefined || ((header >>> 10) & 0xff) !== SENSOR) return response;
    if ((header & 0xff) === SensorMessageId.DESCRIPTION_GET) {
      const out = relayout(
        response,
        52,
        specDescriptorSize,
        (f) => [f & 0xffff, f >>> 16],
        (r, m) => r | (m << 16),
        padOnly,
      );
      seen.parts.push(new DataView(out.buffer).getUint16(8, true));
      return out;
    }
    if ((header & 0xff) === SensorMessageId.AXIS_DESCRIPTION_GET) {
      return relayout(
        response,
        48,
        specAxisSize,
        (f) => [f & 0x3f, f >>> 26],
        (r, m) => r | (m << 26),
        padOnly,
      );
    }
    return response;
  });
  return seen;
}

describe('SCP-firmware SENSOR_V2 fixed-size descriptors', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function describeWith(
    scp: boolean,
    options: { version3?: boolean; padOnly?: boolean } = {},
  ): Promise<{
    sensors: readonly SensorInfo[];
    malformed: Readonly<Record<string, number>>;
    parts: number[];
  }> {
    // PROTOCOL_VERSION says 2.0, as SCP-firmware's SENSOR_V2 builds do.
    h = createHarness({
      drivers: [sensorProtocolDriver],
      platformFaults: options.version3 === true ? [] : [version2],
    });
    const seen = scp ? scpSensorV2(h, options.padOnly === true) : { parts: [] };
    const agent = await h.create();
    const sensor = agent.protocol(sensorProtocolDriver);
    expect(sensor.version).toBe(options.version3 === true ? 0x30001 : 0x20000);
    expect(sensor.domains.failures).toEqual(new Map());
    const result = {
      sensors: sensor.domains.list,
      malformed: agent.diagnostics.malformedReplies,
      parts: seen.parts,
    };
    await h.close();
    h = undefined;
    return result;
  }

  it('describes every sensor and axis from 52- and 48-byte descriptors as from the specification’s', async () => {
    const spec = await describeWith(false);
    const scp = await describeWith(true);
    // Two descriptors per part: the second of each is read from byte 52, not 28 or 32.
    expect(scp.parts).toEqual([2, 2]);
    expect(scp.sensors).toEqual(spec.sensors);
    expect(scp.malformed).toEqual({});
    // The imu's axes carry extended attributes in the emulator: its range, read from 48 bytes.
    expect(scp.sensors[3]?.axes[0]?.range).toEqual(spec.sensors[3]?.axes[0]?.range);
    expect(spec.sensors[3]?.axes).toHaveLength(3);
  });

  it('reads a version 3.1 platform at the specification’s sizes, even a part padded to 52 bytes a descriptor', async () => {
    const spec = await describeWith(false, { version3: true });
    const padded = await describeWith(true, { version3: true, padOnly: true });
    expect(padded.parts).toEqual([2, 2]);
    expect(padded.sensors).toEqual(spec.sensors);
    expect(padded.malformed).toEqual({});
  });
});
