import { ScmiConfigError } from '../errors/scmi-error.js';
import { formatValue } from '../errors/format-value.js';
import { SCMI_VENDOR_PROTOCOL_BASE, scmiProtocolName } from '../wire/protocol-id.js';
import type { ScmiPlatformInfo } from './base/base-protocol.js';
import type { ProtocolDriver } from './protocol-handle.js';

/**
 * The longest vendor or sub-vendor identifier: BASE_DISCOVER_VENDOR returns 16 bytes, a
 * NUL-terminated ASCII string (Linux's `scmi_vendor_protocol_check` refuses one of
 * `SCMI_SHORT_NAME_MAX_SIZE` or more).
 */
const MAX_VENDOR_ID_LENGTH = 15;

/** The vendor fields a driver may set. */
const VENDOR_FIELDS = ['vendor', 'subVendor', 'implementationVersion'] as const;

/**
 * The vendor identification of a driver as Linux keys it (`scmi_protocol_key_calculate`):
 * lower-cased identifiers, a sub-vendor not given as `''` and an implementation version not given
 * as 0 ("any version"); `vendor` undefined for a driver that names none.
 */
interface DriverVendor {
  readonly vendor: string | undefined;
  readonly subVendor: string;
  readonly implementationVersion: number;
}

/** A driver's name and protocol for messages: `driver "imx-bbm" for protocol 0x81`. */
function driverText(driver: ProtocolDriver): string {
  const name = (driver as { name?: unknown }).name;
  return `driver ${typeof name === 'string' ? JSON.stringify(name) : formatValue(name)} for protocol ${scmiProtocolName(driver.protocolId)}`;
}

/** Checks one identifier field of a vendor driver: a non-empty ASCII string of 1–15 characters. */
function identifierOf(driver: ProtocolDriver, field: 'vendor' | 'subVendor'): string | undefined {
  const value: unknown = driver[field];
  if (value === undefined) return undefined;
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_VENDOR_ID_LENGTH ||
    !/^[\x20-\x7e]+$/.test(value)
  ) {
    throw new ScmiConfigError(
      'container',
      `${driverText(driver)}: ${field} must be 1 to ${MAX_VENDOR_ID_LENGTH} printable ASCII characters (BASE_DISCOVER_VENDOR's 16-byte string), got ${formatValue(value)}`,
    );
  }
  return value.toLowerCase();
}

/**
 * The vendor identification `driver` declares, checked (Linux's `scmi_vendor_protocol_check`).
 *
 * @throws ScmiConfigError naming `container`.
 */
function vendorOf(driver: ProtocolDriver): DriverVendor {
  if (driver.protocolId < SCMI_VENDOR_PROTOCOL_BASE) {
    const set = VENDOR_FIELDS.filter((f) => driver[f] !== undefined);
    if (set.length > 0) {
      throw new ScmiConfigError(
        'container',
        `${driverText(driver)}: ${set.join(', ')} apply only to vendor protocols (0x80–0xff); a standard protocol has one driver, whatever the platform's vendor`,
      );
    }
    return { vendor: undefined, subVendor: '', implementationVersion: 0 };
  }
  const vendor = identifierOf(driver, 'vendor');
  const subVendor = identifierOf(driver, 'subVendor');
  const implementationVersion: unknown = driver.implementationVersion;
  if (
    implementationVersion !== undefined &&
    (!Number.isInteger(implementationVersion) ||
      (implementationVersion as number) < 0 ||
      (implementationVersion as number) > 0xffff_ffff)
  ) {
    throw new ScmiConfigError(
      'container',
      `${driverText(driver)}: implementationVersion must be an integer from 0 to 0xffffffff (BASE_DISCOVER_IMPLEMENTATION_VERSION), got ${formatValue(implementationVersion)}`,
    );
  }
  if (vendor === undefined && (subVendor !== undefined || implementationVersion !== undefined)) {
    throw new ScmiConfigError(
      'container',
      `${driverText(driver)}: ${subVendor === undefined ? 'implementationVersion' : 'subVendor'} is given without vendor; it narrows a vendor (Linux refuses a vendor protocol without vendor_id)`,
    );
  }
  return {
    vendor,
    subVendor: subVendor ?? '',
    implementationVersion: (implementationVersion as number | undefined) ?? 0,
  };
}

/** The key two drivers that would match the same platforms share; undefined for an invalid one. */
function keyOf(driver: ProtocolDriver): string | undefined {
  try {
    return keyFor(driver, vendorOf(driver));
  } catch {
    return undefined;
  }
}

/** The key of `driver`, whose identification `vendorOf` gave as `v`. */
function keyFor(driver: ProtocolDriver, v: DriverVendor): string {
  return JSON.stringify([
    driver.protocolId,
    v.vendor ?? null,
    v.subVendor,
    v.implementationVersion,
  ]);
}

/**
 * Whether `a` and `b` are drivers for the same protocol that would match the same platforms (the
 * same vendor identification, as the lookup compares it): one may stand for the other in
 * `agent.protocol`. False when either one's vendor fields are invalid.
 */
export function sameVendorMatch(a: ProtocolDriver, b: ProtocolDriver): boolean {
  const key = keyOf(a);
  return key !== undefined && key === keyOf(b);
}

/** The identification a driver matches, for messages: `vendor "NXP", sub-vendor "i.MX95"`. */
export function describeDriverVendor(driver: ProtocolDriver): string {
  const {
    vendor,
    subVendor,
    implementationVersion: version,
  } = driver as {
    vendor?: unknown;
    subVendor?: unknown;
    implementationVersion?: unknown;
  };
  if (vendor === undefined) return 'any vendor';
  const parts = [`vendor ${formatValue(vendor)}`];
  if (subVendor !== undefined) parts.push(`sub-vendor ${formatValue(subVendor)}`);
  if (typeof version === 'number' && Number.isInteger(version) && version > 0) {
    parts.push(`implementation version 0x${version.toString(16)}`);
  } else if (version !== undefined && version !== 0) {
    parts.push(`implementation version ${formatValue(version)}`);
  }
  return parts.join(', ');
}

/** The platform's identification, for messages. */
export function describePlatformVendor(info: ScmiPlatformInfo): string {
  const parts = [`vendor ${JSON.stringify(info.vendor)}`];
  if (info.subVendor !== undefined) parts.push(`sub-vendor ${JSON.stringify(info.subVendor)}`);
  if (info.implementationVersion !== undefined) {
    parts.push(`implementation version 0x${info.implementationVersion.toString(16)}`);
  }
  return parts.join(', ');
}

/**
 * Checks the drivers bound to `PROTOCOL_DRIVER` before anything is set up: their vendor fields
 * (see `ProtocolDriver.vendor`), and that no two could be chosen for the same platform — one per
 * standard protocol, one per vendor identification of a vendor protocol (keyed as Linux keys
 * them: case-insensitively, a sub-vendor not given as `''`, an implementation version not given
 * as 0).
 *
 * @throws ScmiConfigError naming `container`.
 * @internal
 */
export function checkProtocolDrivers(drivers: readonly ProtocolDriver[]): void {
  const seen = new Map<string, ProtocolDriver>();
  for (const driver of drivers) {
    const key = keyFor(driver, vendorOf(driver));
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, driver);
      continue;
    }
    throw new ScmiConfigError(
      'container',
      driver.protocolId < SCMI_VENDOR_PROTOCOL_BASE
        ? `two protocol drivers for protocol ${scmiProtocolName(driver.protocolId)} are bound to PROTOCOL_DRIVER; bind one`
        : `two protocol drivers for protocol ${scmiProtocolName(driver.protocolId)} match ${describeDriverVendor(driver)} (${JSON.stringify(first.name)} and ${JSON.stringify(driver.name)}); bind one, or tell them apart by vendor, subVendor or implementationVersion`,
    );
  }
}

/**
 * The driver to instantiate for `protocolId` among `candidates` (the bound drivers for it), as
 * Linux's `scmi_vendor_protocol_lookup` chooses a vendor protocol: the closest match of the
 * platform's vendor, sub-vendor and implementation version from Base discovery — all three (a
 * driver with an implementation version), then vendor and sub-vendor (a driver with a sub-vendor
 * and no version), then the vendor alone (a driver with neither); identifiers compared
 * case-insensitively, a sub-vendor the platform does not answer taken as `''` and a version it
 * does not answer as 0. A driver without vendor matches any platform, after every driver that
 * matches it (Linux refuses to register such a driver; here it serves a test that talks to
 * whatever platform is there). A standard protocol has one candidate at most, chosen whatever
 * the vendor.
 *
 * @returns undefined when no candidate matches.
 * @internal
 */
export function chooseProtocolDriver(
  candidates: readonly ProtocolDriver[],
  info: Pick<ScmiPlatformInfo, 'vendor' | 'subVendor' | 'implementationVersion'>,
): ProtocolDriver | undefined {
  const vendor = info.vendor.toLowerCase();
  // Linux keeps an unanswered sub-vendor as an empty string, an unanswered version as 0.
  const subVendor = (info.subVendor ?? '').toLowerCase();
  const version = info.implementationVersion ?? 0;
  let best: ProtocolDriver | undefined;
  let bestRank = 0;
  for (const driver of candidates) {
    const v = vendorOf(driver);
    let rank: number;
    if (v.vendor === undefined) rank = 1;
    else if (v.vendor !== vendor) rank = 0;
    else if (v.implementationVersion !== 0) {
      // Linux's first key: vendor, sub-vendor ('' when the driver has none) and version.
      rank = v.subVendor === subVendor && v.implementationVersion === version ? 4 : 0;
    } else if (v.subVendor !== '') rank = v.subVendor === subVendor ? 3 : 0;
    else rank = 2;
    if (rank > bestRank) {
      best = driver;
      bestRank = rank;
    }
  }
  return best;
}
