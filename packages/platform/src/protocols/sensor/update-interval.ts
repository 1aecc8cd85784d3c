/**
 * Sensor update intervals on the wire: `sec × 10^exponent` seconds, as SENSOR_LIST_UPDATE_INTERVALS
 * entries (20:5 sec, 4:0 signed exponent; Linux `scmi_protocol.h` SCMI_SENS_INTVL_GET_SECS/EXP) and
 * as SENSOR_CONFIG bits 31:11 (31:16 sec, 15:11 exponent; SCMI_SENS_CFG_UPDATE_SECS/EXP_MASK).
 * The platform keeps intervals in whole microseconds. @internal
 */
export interface WireInterval {
  /** Seconds field, 1 … 0xFFFF. */
  readonly sec: number;
  /** Signed power-of-ten exponent, −16 … 15. */
  readonly exponent: number;
}

const MAX_SEC = 0xffff;
const MAX_EXPONENT = 15;

/**
 * The wire form of a positive whole number of microseconds, with trailing zeros folded into the
 * exponent; undefined when the seconds field cannot hold it (more than 16 significant bits).
 * @internal
 */
export function intervalToWire(us: number): WireInterval | undefined {
  if (!Number.isSafeInteger(us) || us <= 0) return undefined;
  let sec = us;
  let exponent = -6;
  while (sec % 10 === 0 && exponent < MAX_EXPONENT) {
    sec /= 10;
    exponent++;
  }
  return sec <= MAX_SEC ? { sec, exponent } : undefined;
}

/**
 * The wire form nearest to a positive whole number of microseconds: the exact one when there is
 * one ({@link intervalToWire}), else the nearest `sec × 10^exponent` the 16-bit seconds field can
 * hold — at the finest exponent where the value, rounded half up, fits, or 0xFFFF at the exponent
 * before it when that is nearer (65 725 µs is reported as 6 573 × 10⁻⁵ s, 65 536 µs as
 * 65 535 × 10⁻⁶ s). A range's members (`min + k × step`) can lack an exact form when only its
 * bounds and step were checked: the platform keeps the exact interval and reports the nearest, as
 * a firmware whose timer runs at a rate the field cannot express would. @internal
 */
export function intervalToWireNearest(us: number): WireInterval {
  const exact = intervalToWire(us);
  if (exact !== undefined) return exact;
  for (let exponent = -6; ; exponent++) {
    const unit = 10 ** (exponent + 6);
    const sec = Math.round(us / unit);
    if (sec <= MAX_SEC || exponent === MAX_EXPONENT) {
      return { sec: Math.min(sec, MAX_SEC), exponent };
    }
    // The next exponent gives at least 6 554 × 10 = 65 540 units: 0xFFFF here is nearer below
    // 65 537.5 units.
    if (us < (MAX_SEC + 2.5) * unit) return { sec: MAX_SEC, exponent };
  }
}

/** Microseconds of a wire interval (fractional below 1 µs). @internal */
export function intervalFromWire(sec: number, exponent: number): number {
  const shift = exponent + 6;
  return shift >= 0 ? sec * 10 ** shift : sec / 10 ** -shift;
}

/** The SENSOR_LIST_UPDATE_INTERVALS entry of a wire interval. @internal */
export function intervalEntry(w: WireInterval): number {
  return ((w.sec << 5) | (w.exponent & 0x1f)) >>> 0;
}

/** SENSOR_CONFIG bits 31:11 of a wire interval. @internal */
export function intervalConfigBits(w: WireInterval): number {
  return ((w.sec << 16) | ((w.exponent & 0x1f) << 11)) >>> 0;
}

/** Sign-extends a 5-bit two's complement field. @internal */
export function signed5(bits: number): number {
  return (bits & 0x10) !== 0 ? (bits & 0x1f) - 32 : bits & 0x1f;
}
