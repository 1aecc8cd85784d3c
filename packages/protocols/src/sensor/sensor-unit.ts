import { formatValue } from '@scmi-ts/core';
/**
 * The SCMI sensor type/unit codes: a sensor's or an axis' `type` (attributes_high 7:0). The
 * values and names are Linux's `enum scmi_sensor_class` (include/linux/scmi_protocol.h), a part
 * of DMTF DSP0249's unit list; 0x5E … 0xFE are reserved.
 *
 * @example
 * ```ts
 * if (sensor.domains.info(0).type === SensorUnit.TEMPERATURE_C) console.log('a thermometer');
 * ```
 */
export enum SensorUnit {
  /** No unit: a bare number. */
  NONE = 0x0,
  /** A unit the platform does not specify. */
  UNSPEC = 0x1,
  /** Degrees Celsius (°C). */
  TEMPERATURE_C = 0x2,
  /** Degrees Fahrenheit (°F). */
  TEMPERATURE_F = 0x3,
  /** Kelvin (K). */
  TEMPERATURE_K = 0x4,
  /** Volts (V). */
  VOLTAGE = 0x5,
  /** Amperes (A). */
  CURRENT = 0x6,
  /** Watts (W). */
  POWER = 0x7,
  /** Joules (J). */
  ENERGY = 0x8,
  /** Coulombs (C). */
  CHARGE = 0x9,
  /** Volt-amperes (VA). */
  VOLTAMPERE = 0xa,
  /** Nits (cd/m²). */
  NITS = 0xb,
  /** Lumens (lm). */
  LUMENS = 0xc,
  /** Lux (lx). */
  LUX = 0xd,
  /** Candelas (cd). */
  CANDELAS = 0xe,
  /** Kilopascals (kPa). */
  KPA = 0xf,
  /** Pounds per square inch (psi). */
  PSI = 0x10,
  /** Newtons (N). */
  NEWTON = 0x11,
  /** Cubic feet per minute (CFM). */
  CFM = 0x12,
  /** Revolutions per minute (RPM). */
  RPM = 0x13,
  /** Hertz (Hz). */
  HERTZ = 0x14,
  /** Seconds (s). */
  SECS = 0x15,
  /** Minutes (min). */
  MINS = 0x16,
  /** Hours (h). */
  HOURS = 0x17,
  /** Days (d). */
  DAYS = 0x18,
  /** Weeks. */
  WEEKS = 0x19,
  /** Mils (thousandths of an inch). */
  MILS = 0x1a,
  /** Inches (in). */
  INCHES = 0x1b,
  /** Feet (ft). */
  FEET = 0x1c,
  /** Cubic inches (in³). */
  CUBIC_INCHES = 0x1d,
  /** Cubic feet (ft³). */
  CUBIC_FEET = 0x1e,
  /** Metres (m). */
  METERS = 0x1f,
  /** Cubic centimetres (cm³). */
  CUBIC_CM = 0x20,
  /** Cubic metres (m³). */
  CUBIC_METERS = 0x21,
  /** Litres (L). */
  LITERS = 0x22,
  /** Fluid ounces (fl oz). */
  FLUID_OUNCES = 0x23,
  /** Radians (rad). */
  RADIANS = 0x24,
  /** Steradians (sr). */
  STERADIANS = 0x25,
  /** Revolutions. */
  REVOLUTIONS = 0x26,
  /** Cycles. */
  CYCLES = 0x27,
  /** Standard gravities (gₙ). */
  GRAVITIES = 0x28,
  /** Ounces (oz). */
  OUNCES = 0x29,
  /** Pounds (lb). */
  POUNDS = 0x2a,
  /** Foot-pounds (ft·lb). */
  FOOT_POUNDS = 0x2b,
  /** Ounce-inches (oz·in). */
  OUNCE_INCHES = 0x2c,
  /** Gauss (G). */
  GAUSS = 0x2d,
  /** Gilberts (Gb). */
  GILBERTS = 0x2e,
  /** Henries (H). */
  HENRIES = 0x2f,
  /** Farads (F). */
  FARADS = 0x30,
  /** Ohms (Ω). */
  OHMS = 0x31,
  /** Siemens (S). */
  SIEMENS = 0x32,
  /** Moles (mol). */
  MOLES = 0x33,
  /** Becquerels (Bq). */
  BECQUERELS = 0x34,
  /** Parts per million (ppm). */
  PPM = 0x35,
  /** Decibels (dB). */
  DECIBELS = 0x36,
  /** A-weighted decibels (dBA). */
  DBA = 0x37,
  /** C-weighted decibels (dBC). */
  DBC = 0x38,
  /** Grays (Gy). */
  GRAYS = 0x39,
  /** Sieverts (Sv). */
  SIEVERTS = 0x3a,
  /** Colour temperature, kelvin (K). */
  COLOR_TEMP_K = 0x3b,
  /** Bits. */
  BITS = 0x3c,
  /** Bytes. */
  BYTES = 0x3d,
  /** Words (of data). */
  WORDS = 0x3e,
  /** Double words. */
  DWORDS = 0x3f,
  /** Quad words. */
  QWORDS = 0x40,
  /** Percent (%). */
  PERCENTAGE = 0x41,
  /** Pascals (Pa). */
  PASCALS = 0x42,
  /** Counts. */
  COUNTS = 0x43,
  /** Grams (g). */
  GRAMS = 0x44,
  /** Newton-metres (N·m). */
  NEWTON_METERS = 0x45,
  /** Hits. */
  HITS = 0x46,
  /** Misses. */
  MISSES = 0x47,
  /** Retries. */
  RETRIES = 0x48,
  /** Overruns (overflows). */
  OVERRUNS = 0x49,
  /** Underruns. */
  UNDERRUNS = 0x4a,
  /** Collisions. */
  COLLISIONS = 0x4b,
  /** Packets. */
  PACKETS = 0x4c,
  /** Messages. */
  MESSAGES = 0x4d,
  /** Characters. */
  CHARS = 0x4e,
  /** Errors. */
  ERRORS = 0x4f,
  /** Corrected errors. */
  CORRECTED_ERRS = 0x50,
  /** Uncorrectable errors. */
  UNCORRECTABLE_ERRS = 0x51,
  /** Square mils (mil²). */
  SQ_MILS = 0x52,
  /** Square inches (in²). */
  SQ_INCHES = 0x53,
  /** Square feet (ft²). */
  SQ_FEET = 0x54,
  /** Square centimetres (cm²). */
  SQ_CM = 0x55,
  /** Square metres (m²). */
  SQ_METERS = 0x56,
  /** Radians per second (rad/s). */
  RADIANS_SEC = 0x57,
  /** Beats per minute (BPM). */
  BPM = 0x58,
  /** Metres per second squared (m/s²). */
  METERS_SEC_SQUARED = 0x59,
  /** Metres per second (m/s). */
  METERS_SEC = 0x5a,
  /** Cubic metres per second (m³/s). */
  CUBIC_METERS_SEC = 0x5b,
  /** Millimetres of mercury (mmHg). */
  MM_MERCURY = 0x5c,
  /** Radians per second squared (rad/s²). */
  RADIANS_SEC_SQUARED = 0x5d,
  /** A unit of the platform vendor's own. */
  OEM_UNIT = 0xff,
}

/** The symbol of each unit, indexed by its code (0x0 … 0x5D); '' for none and unspecified. */
const SYMBOLS: readonly string[] = [
  '',
  '',
  '°C',
  '°F',
  'K',
  'V',
  'A',
  'W',
  'J',
  'C',
  'VA',
  'nit',
  'lm',
  'lx',
  'cd',
  'kPa',
  'psi',
  'N',
  'CFM',
  'RPM',
  'Hz',
  's',
  'min',
  'h',
  'd',
  'weeks',
  'mil',
  'in',
  'ft',
  'in³',
  'ft³',
  'm',
  'cm³',
  'm³',
  'L',
  'fl oz',
  'rad',
  'sr',
  'rev',
  'cycles',
  'gₙ',
  'oz',
  'lb',
  'ft·lb',
  'oz·in',
  'G',
  'Gb',
  'H',
  'F',
  'Ω',
  'S',
  'mol',
  'Bq',
  'ppm',
  'dB',
  'dBA',
  'dBC',
  'Gy',
  'Sv',
  'K',
  'bits',
  'bytes',
  'words',
  'dwords',
  'qwords',
  '%',
  'Pa',
  'counts',
  'g',
  'N·m',
  'hits',
  'misses',
  'retries',
  'overruns',
  'underruns',
  'collisions',
  'packets',
  'messages',
  'characters',
  'errors',
  'corrected errors',
  'uncorrectable errors',
  'mil²',
  'in²',
  'ft²',
  'cm²',
  'm²',
  'rad/s',
  'BPM',
  'm/s²',
  'm/s',
  'm³/s',
  'mmHg',
  'rad/s²',
];

/**
 * The symbol of a sensor type/unit code, for display: `'°C'` for 2, `'V'` for 5; `''` for NONE
 * and UNSPEC (a bare number); `'(OEM unit)'` for 0xFF; `'(unit 0x5e)'` for a reserved code, and
 * for anything that is not a code (a negative, a fraction, above 0xFF), so that a platform's
 * reserved code still shows.
 *
 * @example
 * ```ts
 * sensorUnitSymbol(SensorUnit.TEMPERATURE_C); // '°C'
 * sensorUnitSymbol(0x60); // '(unit 0x60)'
 * ```
 */
export function sensorUnitSymbol(unit: number): string {
  if (Number.isInteger(unit) && unit >= 0 && unit < SYMBOLS.length) return SYMBOLS[unit] as string;
  if (unit === SensorUnit.OEM_UNIT) return '(OEM unit)';
  return `(unit ${Number.isInteger(unit) && unit >= 0 ? `0x${unit.toString(16)}` : formatValue(unit)})`;
}

/**
 * A reading as a decimal with its unit: `value` × 10^`unitExponent`, written out exactly (no
 * floating point: a 64-bit reading keeps every digit), then the unit's symbol
 * ({@link sensorUnitSymbol}) when it has one. The sensor's or axis' `unitExponent` and `type`
 * give the last two arguments.
 *
 * @throws RangeError when `value` is a number that is not an integer, or `unitExponent` is not an
 * integer from −16 to 15 (the range of its 5-bit field).
 * @example
 * ```ts
 * sensorValueText(45123n, -3, SensorUnit.TEMPERATURE_C); // '45.123 °C'
 * sensorValueText(-5, -1, SensorUnit.VOLTAGE); // '-0.5 V'
 * sensorValueText(12, 3, SensorUnit.HERTZ); // '12000 Hz'
 * ```
 */
export function sensorValueText(
  value: bigint | number,
  unitExponent: number,
  unit: number,
): string {
  if (typeof value === 'number' && !Number.isInteger(value)) {
    throw new RangeError(`a sensor value is an integer, got ${value}`);
  }
  if (!Number.isInteger(unitExponent) || unitExponent < -16 || unitExponent > 15) {
    throw new RangeError(`a unit exponent is an integer from -16 to 15, got ${unitExponent}`);
  }
  const v = BigInt(value);
  const sign = v < 0n ? '-' : '';
  let digits = (v < 0n ? -v : v).toString();
  if (unitExponent >= 0) digits += '0'.repeat(unitExponent);
  else {
    const places = -unitExponent;
    digits = digits.padStart(places + 1, '0');
    digits = `${digits.slice(0, -places)}.${digits.slice(-places)}`;
  }
  const symbol = sensorUnitSymbol(unit);
  return symbol === '' ? `${sign}${digits}` : `${sign}${digits} ${symbol}`;
}
