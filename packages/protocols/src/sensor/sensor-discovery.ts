import {
  ScmiMalformedError,
  ScmiStatus,
  ScmiStatusError,
  type PayloadReader,
  type ProtocolHandle,
} from '@scmi-ts/core';
import {
  DomainTable,
  SHORT_NAME_SIZE,
  isRemovalError,
  resourceName,
} from '../common/domain-table.js';
import {
  SENSOR_MAX_AXES,
  SensorMessageId,
  intervalFromEntry,
  signed5,
  type SensorUpdateInterval,
} from './sensor-wire.js';

/* attributes_low */
const ASYNC_READ = 1 << 31;
const UPDATE_NOTIFY = 1 << 30;
const EXTENDED_NAME = 1 << 29;
const TIMESTAMP = 1 << 9;
const EXTENDED_ATTRS = 1 << 8;
/* attributes_high */
const AXIS_SUPPORT = 1 << 8;
/* axis attributes_low */
const AXIS_EXTENDED_NAME = 1 << 9;
/* num_intervals_flags */
const SEGMENTED = 1 << 12;

/**
 * Bytes of every sensor descriptor SCP-firmware's `BUILD_HAS_SCMI_SENSOR_V2` builds send (its
 * `struct scmi_sensor_desc`: the 28 base bytes and power, resolution, min and max range, whatever
 * the extended-attributes bit), and of every axis descriptor (`struct scmi_sensor_axis_desc`: 28
 * and resolution, min and max range); see {@link fixedStride}.
 */
const SCP_V2_DESCRIPTOR_SIZE = 52;
const SCP_V2_AXIS_DESCRIPTOR_SIZE = 48;

/**
 * The size every descriptor of a part occupies when the platform sends them all at a fixed size,
 * as SCP-firmware's SENSOR_V2 builds do (`write_payload(…, sizeof(struct scmi_sensor_desc))` per
 * sensor, extended attributes or not; they report version 2.0), else `undefined` (each descriptor
 * as long as its bits say). Only at version 2.x, and told by the part's length: the
 * specification's descriptors are 28, 32 or 52 bytes (axes 28 or 48), so `returned` of them fill
 * exactly `size × returned` bytes only when each is `size` long — the layouts agree there, and
 * nothing is skipped. (A 2.x platform that sent shorter descriptors followed by padding up to
 * exactly that length would be misread, its ids then refused as out of order.) Linux reads the
 * specification's sizes only, and would read such firmware's second descriptor from inside the
 * first.
 */
function fixedStride(
  ph: ProtocolHandle,
  bytes: number,
  returned: number,
  size: number,
): number | undefined {
  if (ph.version >>> 16 !== 2) return undefined;
  return returned > 0 && bytes === size * returned ? size : undefined;
}

/** Skips to the end of a descriptor that began at `start`, when descriptors are `stride` long. */
function skipToStride(r: PayloadReader, start: number, stride: number | undefined): void {
  if (stride !== undefined) r.skip(stride - (r.offset - start));
}

/**
 * The extended attributes of a scalar sensor or of an axis (attributes_low bit 8, version 3.0):
 * resolution and range.
 */
export interface SensorRangeAttributes {
  /** The resolution (resolution 26:0), in units of 10^`resolutionExponent` of the unit. */
  readonly resolution: number;
  /** The signed power-of-ten exponent of the resolution (resolution 31:27). */
  readonly resolutionExponent: number;
  /** The smallest value the sensor reports (signed 64-bit). */
  readonly minRange: bigint;
  /** The largest value the sensor reports (signed 64-bit). */
  readonly maxRange: bigint;
}

/** One axis of a multi-axis sensor, as SENSOR_AXIS_DESCRIPTION_GET (and AXIS_NAME_GET) describe it. */
export interface SensorAxisInfo {
  /** The axis id (its index among the sensor's axes). */
  readonly id: number;
  /** Its name: the extended one when the platform gave it (SENSOR_AXIS_NAME_GET), else the short one. */
  readonly name: string;
  /** The SCMI sensor type/unit code (attributes_high 7:0): see {@link SensorUnit}. */
  readonly type: number;
  /** The signed power-of-ten exponent of the unit (attributes_high 15:11). */
  readonly unitExponent: number;
  /** Resolution and range when the axis announces extended attributes (attributes_low bit 8). */
  readonly range: SensorRangeAttributes | undefined;
}

/** Update intervals given one by one (SENSOR_LIST_UPDATE_INTERVALS, bit 12 clear). */
export interface SensorUpdateIntervalList {
  /** Discriminant: a list. */
  readonly segmented: false;
  /** The intervals, in the platform's order. */
  readonly intervals: readonly SensorUpdateInterval[];
}

/** Update intervals as a range (SENSOR_LIST_UPDATE_INTERVALS, bit 12: one triplet). */
export interface SensorUpdateIntervalRange {
  /** Discriminant: a range. */
  readonly segmented: true;
  /** The shortest interval. */
  readonly min: SensorUpdateInterval;
  /** The longest interval. */
  readonly max: SensorUpdateInterval;
  /** The step between intervals. */
  readonly step: SensorUpdateInterval;
}

/** The update intervals a sensor supports: a list or a range. */
export type SensorUpdateIntervals = SensorUpdateIntervalList | SensorUpdateIntervalRange;

/** A sensor as SENSOR_DESCRIPTION_GET and the commands init sends after it describe it. */
export interface SensorInfo {
  /** The sensor id (its descriptor's id, which is its index: see {@link SensorProtocol.domains}). */
  readonly id: number;
  /** Its name: the extended one when the platform announces one (version 3.0), else the short one. */
  readonly name: string;
  /**
   * The SCMI sensor type/unit code (attributes_high 7:0; e.g. 2 °C, 5 V, 6 A): see
   * {@link SensorUnit}, and {@link sensorValueText} to show a reading with it.
   */
  readonly type: number;
  /** The signed power-of-ten exponent of the unit (attributes_high 15:11). */
  readonly unitExponent: number;
  /** Whether it can be read asynchronously (attributes_low bit 31). */
  readonly asyncRead: boolean;
  /** How many trip points it has (attributes_low 7:0). */
  readonly tripPoints: number;
  /**
   * Whether it sends SENSOR_UPDATE (attributes_low bit 30), counted only when the platform
   * implements SENSOR_CONTINUOUS_UPDATE_NOTIFY, as Linux's `s->update`.
   */
  readonly continuousUpdates: boolean;
  /**
   * The signed power-of-ten exponent in seconds of its timestamps (attributes_low 14:10), when it
   * timestamps its readings (bit 9); else `undefined`.
   */
  readonly timestampExponent: number | undefined;
  /**
   * The power it draws in µW, when it announces extended attributes (attributes_low bit 8,
   * version 3.0); else `undefined`.
   */
  readonly powerUw: number | undefined;
  /**
   * Resolution and range of a scalar sensor that announces extended attributes (a multi-axis
   * sensor gives them per axis, as Linux reads them); else `undefined`.
   */
  readonly range: SensorRangeAttributes | undefined;
  /** Its axes (attributes_high bit 8, 21:16 count; at most 63); empty for a scalar sensor. */
  readonly axes: readonly SensorAxisInfo[];
  /**
   * Its update intervals: from attributes_high 31:22 at version 1.0, from
   * SENSOR_LIST_UPDATE_INTERVALS after; `undefined` when it has none (NOT_SUPPORTED) or that
   * command failed (see `intervalsError`).
   */
  readonly updateIntervals: SensorUpdateIntervals | undefined;
  /** Present when SENSOR_NAME_GET failed: the error (`name` is then the short name). */
  readonly nameError?: unknown;
  /**
   * Present when SENSOR_AXIS_NAME_GET failed: the error (the axes it had not named yet keep their
   * short names).
   */
  readonly axisNamesError?: unknown;
  /**
   * Present when SENSOR_LIST_UPDATE_INTERVALS failed otherwise than NOT_SUPPORTED or NOT_FOUND
   * (an error status, a malformed reply): the error.
   */
  readonly intervalsError?: unknown;
}

/** A sensor descriptor as read from SENSOR_DESCRIPTION_GET, before the per-sensor commands. */
interface RawDescriptor {
  readonly id: number;
  readonly low: number;
  readonly high: number;
  readonly shortName: string;
  readonly numAxes: number;
  readonly powerUw: number | undefined;
  readonly range: SensorRangeAttributes | undefined;
}

/** Reads resolution and range (resolution, min_range_low/high, max_range_low/high). */
function readRange(r: PayloadReader): SensorRangeAttributes {
  const resolution = r.u32();
  return {
    resolution: resolution & 0x7ffffff,
    resolutionExponent: signed5(resolution >>> 27),
    minRange: BigInt.asIntN(64, r.u64()),
    maxRange: BigInt.asIntN(64, r.u64()),
  };
}

/**
 * Reads one sensor descriptor, its size depending on its extended-attributes bit as in Linux's
 * `iter_sens_descr_process_response`: 28 bytes, then with attributes_low bit 8 the power, and for
 * a scalar sensor only the resolution and range too; then skips to `stride` bytes from its start
 * when the part's descriptors are all that long ({@link fixedStride}).
 */
function readDescriptor(r: PayloadReader, stride: number | undefined): RawDescriptor {
  const start = r.offset;
  const id = r.u32();
  const low = r.u32();
  const high = r.u32();
  const shortName = r.string(SHORT_NAME_SIZE);
  // min(SUPPORTS_AXIS ? SENSOR_AXIS_NUMBER : 0, SCMI_MAX_NUM_SENSOR_AXIS): a 6-bit field.
  const numAxes = Math.min((high & AXIS_SUPPORT) !== 0 ? (high >>> 16) & 0x3f : 0, SENSOR_MAX_AXES);
  let powerUw: number | undefined;
  let range: SensorRangeAttributes | undefined;
  if ((low & EXTENDED_ATTRS) !== 0) {
    powerUw = r.u32();
    if (numAxes === 0) range = readRange(r);
  }
  skipToStride(r, start, stride);
  return { id, low, high, shortName, numAxes, powerUw, range };
}

/** Whether `e` is a status a platform answers for a command (or resource) it does not have. */
function isAbsent(e: unknown): boolean {
  return (
    ScmiStatusError.is(e) &&
    (e.status === ScmiStatus.NOT_SUPPORTED || e.status === ScmiStatus.NOT_FOUND)
  );
}

/**
 * SENSOR_LIST_UPDATE_INTERVALS of sensor `id` as Linux's `scmi_sensor_update_intervals`: a list
 * in parts (11:0 returned, 31:16 remaining), or one segmented triplet (bit 12) — a triplet that is
 * not exactly 3 returned and 0 remaining is malformed (Linux: -EINVAL, "advertises an invalid
 * segmented interval").
 */
async function listIntervals(ph: ProtocolHandle, id: number): Promise<SensorUpdateIntervals> {
  let segmented: boolean | undefined;
  const entries = await ph.xfer.iterate(SensorMessageId.LIST_UPDATE_INTERVALS, {
    txSize: 8,
    prepare: (w, index) => w.u32(id).u32(index),
    counts: (r) => {
      const flags = r.u32();
      const returned = flags & 0xfff;
      const remaining = flags >>> 16;
      if (segmented === undefined) {
        segmented = (flags & SEGMENTED) !== 0;
        if (segmented && (remaining !== 0 || returned !== 3)) {
          throw new ScmiMalformedError(
            `SENSOR_LIST_UPDATE_INTERVALS: sensor ${id} announces a segmented interval of ${returned} returned, ${remaining} remaining (one triplet expected)`,
            'E_SEGMENTED',
          );
        }
      }
      return { returned, remaining };
    },
    item: (r) => intervalFromEntry(r.u32()),
    // Linux bounds the walk by the first part's count; here too (12-bit returned, 16-bit remaining).
    max: 0xfff + 0xffff,
  });
  const [min, max, step] = entries;
  if (segmented === true && min !== undefined && max !== undefined && step !== undefined) {
    return { segmented: true, min, max, step };
  }
  return { segmented: false, intervals: entries };
}

/**
 * The update intervals of a sensor: at version 1.0 the one attributes_high gives (31:27 secs, 26:22
 * exponent, as Linux converts it); after, SENSOR_LIST_UPDATE_INTERVALS, an optional command whose
 * failure leaves none ("Update Intervals not available", Linux goes on).
 */
async function updateIntervals(
  ph: ProtocolHandle,
  d: RawDescriptor,
): Promise<{ updateIntervals: SensorUpdateIntervals | undefined; intervalsError?: unknown }> {
  // Linux tests `si->version == SCMIv2_SENSOR_PROTOCOL` (0x10000, SCMI v2.0's sensor protocol);
  // every 1.x minor has that layout.
  if (ph.version >>> 16 < 2) {
    return {
      updateIntervals: {
        segmented: false,
        intervals: [{ secs: d.high >>> 27, exponent: signed5(d.high >>> 22) }],
      },
    };
  }
  try {
    return { updateIntervals: await listIntervals(ph, d.id) };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return isAbsent(e)
      ? { updateIntervals: undefined }
      : { updateIntervals: undefined, intervalsError: e };
  }
}

/**
 * The axes of sensor `id` (SENSOR_AXIS_DESCRIPTION_GET, as Linux's `scmi_sensor_axis_description`:
 * 5:0 returned, 31:26 remaining, each descriptor 28 bytes and 20 more with its extended-attributes
 * bit), then their extended names (SENSOR_AXIS_NAME_GET) at version 3.0 when an axis announces one
 * (axis attributes_low bit 9), picked by the axis_id each entry carries; a failed AXIS_NAME_GET
 * keeps the names received before it failed and the short names of the others (Linux writes each
 * name into its axis as it arrives, then warns and goes on). An axis whose id is not its index is
 * malformed, and so is a walk that describes fewer axes than the sensor announces.
 *
 * @throws the AXIS_DESCRIPTION_GET failure (the sensor is then not described; in Linux the
 *   whole Sensor protocol fails to initialize, `scmi_iterator_run` stopping on it).
 */
async function describeAxes(
  ph: ProtocolHandle,
  id: number,
  numAxes: number,
): Promise<{ axes: SensorAxisInfo[]; axisNamesError?: unknown }> {
  // An object: a flag set inside a callback would read as always false where it is tested.
  const seen: { extendedNames: boolean; stopped?: Error; stride?: number | undefined } = {
    extendedNames: false,
  };
  const axes = await ph.xfer.iterate(SensorMessageId.AXIS_DESCRIPTION_GET, {
    // A part that returns none but announces more ends the walk, counted already by iterate.
    warn: (_message, error) => {
      seen.stopped = error;
    },
    txSize: 8,
    prepare: (w, index) => w.u32(id).u32(index),
    counts: (r) => {
      const flags = r.u32();
      const returned = flags & 0x3f;
      seen.stride = fixedStride(ph, r.remaining, returned, SCP_V2_AXIS_DESCRIPTOR_SIZE);
      return { returned, remaining: flags >>> 26 };
    },
    item: (r, index): SensorAxisInfo => {
      const start = r.offset;
      const axisId = r.u32();
      const low = r.u32();
      const high = r.u32();
      const name = r.string(SHORT_NAME_SIZE);
      if (axisId !== index) {
        throw new ScmiMalformedError(
          `SENSOR_AXIS_DESCRIPTION_GET: sensor ${id} gives axis id ${axisId} at index ${index}`,
          'E_AXIS_ID',
        );
      }
      if ((low & AXIS_EXTENDED_NAME) !== 0) seen.extendedNames = true;
      const axis: SensorAxisInfo = {
        id: axisId,
        name,
        type: high & 0xff,
        unitExponent: signed5(high >>> 11),
        range: (low & EXTENDED_ATTRS) !== 0 ? readRange(r) : undefined,
      };
      skipToStride(r, start, seen.stride);
      return axis;
    },
    max: numAxes,
  });
  // Fewer axes than the descriptor announced: every reading would be cut to them. Linux's
  // iterator ends such a walk silently; here the sensor is not described, and the reply counted
  // (once: a walk iterate ended early was counted by it).
  if (axes.length < numAxes) {
    throw (
      seen.stopped ??
      ph.xfer.malformed(
        new ScmiMalformedError(
          `SENSOR_AXIS_DESCRIPTION_GET: sensor ${id} described ${axes.length} of the ${numAxes} axes it announces`,
          'E_MULTIPART',
        ),
      )
    );
  }
  if (!seen.extendedNames || ph.version >>> 16 < 3) return { axes };
  // Each name lands as it arrives: a walk that fails later keeps it.
  const named = [...axes];
  try {
    await ph.xfer.iterate(SensorMessageId.AXIS_NAME_GET, {
      txSize: 8,
      prepare: (w, index) => w.u32(id).u32(index),
      counts: (r) => {
        const flags = r.u32();
        return { returned: flags & 0x3f, remaining: flags >>> 26 };
      },
      item: (r) => {
        const axisId = r.u32();
        const name = r.string(64);
        // Linux's iter_axes_extended_name_process_response: -EPROTO past the axes.
        if (axisId >= axes.length) {
          throw new ScmiMalformedError(
            `SENSOR_AXIS_NAME_GET: sensor ${id} names axis ${axisId} of ${axes.length}`,
            'E_AXIS_ID',
          );
        }
        named[axisId] = { ...(named[axisId] as SensorAxisInfo), name };
      },
      max: numAxes,
    });
    return { axes: named };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return { axes: named, axisNamesError: e };
  }
}

/**
 * Describes every sensor as Linux's `scmi_sensor_description_get` does: SENSOR_DESCRIPTION_GET in
 * parts (the walk bounded by PROTOCOL_ATTRIBUTES' count), then for each sensor its update
 * intervals, its extended name, its axes (and their extended names). Linux sends a part's
 * per-sensor commands while it walks the parts (in its `process_response`); this walks every part
 * first: the same commands, in another order when there is more than one part.
 *
 * Sensor ids are 0 to `count − 1` and a descriptor carries its own: Linux fills `sensors[]` by
 * position and every later command indexes that array with the id it sends, so it assumes the two
 * agree without checking. Here a descriptor whose id is not its index is malformed (counted once)
 * and that sensor a failure; so is a sensor the walk did not reach (a part that stopped early, a
 * total below the count). The table's ids are thus the platform's. A part whose descriptors
 * are all SCP-firmware SENSOR_V2's fixed size is read at that size at version 2.x
 * ({@link fixedStride}).
 *
 * @throws the SENSOR_DESCRIPTION_GET failure (as Linux's init fails with it); a removal.
 * @internal
 */
export async function describeSensors(
  ph: ProtocolHandle,
  count: number,
  updateNotify: boolean,
): Promise<DomainTable<SensorInfo>> {
  let stopped: Error | undefined;
  let stride: number | undefined;
  const descriptors =
    count === 0
      ? []
      : await ph.xfer.iterate(SensorMessageId.DESCRIPTION_GET, {
          txSize: 4,
          prepare: (w, index) => w.u32(index),
          counts: (r) => {
            const returned = r.u16();
            const remaining = r.u16();
            stride = fixedStride(ph, r.remaining, returned, SCP_V2_DESCRIPTOR_SIZE);
            return { returned, remaining };
          },
          item: (r) => readDescriptor(r, stride),
          max: count,
          warn: (_message, error) => {
            stopped = error;
          },
        });
  // The one error of every sensor the walk did not reach: made (and counted) at the first.
  let missing: Error | undefined;
  return DomainTable.describe('sensor', count, async (id) => {
    const d = descriptors[id];
    if (d === undefined) {
      missing ??=
        stopped ??
        ph.xfer.malformed(
          new ScmiMalformedError(
            `SENSOR_DESCRIPTION_GET described ${descriptors.length} of the ${count} sensors PROTOCOL_ATTRIBUTES announced`,
            'E_MULTIPART',
          ),
        );
      throw missing;
    }
    if (d.id !== id) {
      throw ph.xfer.malformed(
        new ScmiMalformedError(
          `SENSOR_DESCRIPTION_GET: descriptor ${id} carries sensor id ${d.id} (ids are 0 to ${count - 1}, in order)`,
          'E_SENSOR_ID',
        ),
      );
    }
    const intervals = await updateIntervals(ph, d);
    const name = await resourceName(
      ph,
      SensorMessageId.NAME_GET,
      id,
      d.shortName,
      (d.low & EXTENDED_NAME) !== 0,
    );
    const axes = d.numAxes > 0 ? await describeAxes(ph, id, d.numAxes) : { axes: [] };
    const info: SensorInfo = {
      id,
      ...name,
      type: d.high & 0xff,
      unitExponent: signed5(d.high >>> 11),
      asyncRead: (d.low & ASYNC_READ) !== 0,
      tripPoints: d.low & 0xff,
      continuousUpdates: updateNotify && (d.low & UPDATE_NOTIFY) !== 0,
      timestampExponent: (d.low & TIMESTAMP) !== 0 ? signed5(d.low >>> 10) : undefined,
      powerUw: d.powerUw,
      range: d.range,
      ...axes,
      ...intervals,
    };
    return info;
  });
}
