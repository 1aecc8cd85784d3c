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

/** The vendor identification of a driver, lower-cased for comparison (`undefined`: not given). */
interface DriverVendor {
  readonly vendor: string | undefined;
  readonly subVendor: string | undefined;
  readonly implementationVersion: number | undefined;
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

/** The vendor identification `driver` declares, checked; lower-cased identifiers. */
function vendorOf(driver: ProtocolDriver): DriverVendor {
  if (driver.protocolId < SCMI_VENDOR_PROTOCOL_BASE) {
    const set = VENDOR_FIELDS.filter((f) => driver[f] !== undefined);
    if (set.length > 0) {
      throw new ScmiConfigError(
        'container',
        `${driverText(driver)}: ${set.join(', ')} apply only to vendor protocols (0x80–0xff); a standard protocol has one driver, whatever the platform's vendor`,
      );
    }
    return { vendor: undefined, subVendor: undefined, implementationVersion: undefined };
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
  if (subVendor !== undefined && vendor === undefined) {
    throw new ScmiConfigError(
      'container',
      `${driverText(driver)}: subVendor is given without vendor; a sub-vendor narrows a vendor`,
    );
  }
  if (implementationVersion !== undefined && subVendor === undefined) {
    throw new ScmiConfigError(
      'container',
      `${driverText(driver)}: implementationVersion is given without subVendor; it narrows a vendor and sub-vendor, as in Linux's vendor protocol lookup`,
    );
  }
  return {
    vendor,
    subVendor,
    implementationVersion: implementationVersion as number | undefined,
  };
}

/** The identification a driver matches, for messages: `vendor "NXP", sub-vendor "i.MX95"`. */
export function describeDriverVendor(driver: ProtocolDriver): string {
  if (driver.vendor === undefined) return 'any vendor';
  const parts = [`vendor ${JSON.stringify(driver.vendor)}`];
  if (driver.subVendor !== undefined) parts.push(`sub-vendor ${JSON.stringify(driver.subVendor)}`);
  if (driver.implementationVersion !== undefined) {
    parts.push(`implementation version 0x${driver.implementationVersion.toString(16)}`);
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
 * (see {@link ProtocolDriver.vendor}), and that no two could be chosen for the same platform —
 * one per standard protocol, one per vendor identification of a vendor protocol (compared as
 * the lookup compares them, case-insensitively).
 *
 * @throws ScmiConfigError naming `container`.
 * @internal
 */
export function checkProtocolDrivers(drivers: readonly ProtocolDriver[]): void {
  const seen = new Map<string, ProtocolDriver>();
  for (const driver of drivers) {
    const v = vendorOf(driver);
    const key = JSON.stringify([
      driver.protocolId,
      v.vendor ?? null,
      v.subVendor ?? null,
      v.implementationVersion ?? null,
    ]);
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
 * platform's vendor, sub-vendor and implementation version from Base discovery — all three, then
 * vendor and sub-vendor (a driver without implementationVersion), then the vendor alone (a
 * driver without subVendor); identifiers compared case-insensitively. A driver without vendor
 * matches any platform, after every driver that names it (Linux refuses to register such a
 * driver; here it serves a test that talks to whatever platform is there). A standard protocol
 * has one candidate at most, chosen whatever the vendor.
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
    else if (v.subVendor === undefined) rank = 2;
    else if (v.subVendor !== subVendor) rank = 0;
    else if (v.implementationVersion === undefined) rank = 3;
    else rank = v.implementationVersion === version ? 4 : 0;
    if (rank > bestRank) {
      best = driver;
      bestRank = rank;
    }
  }
  return best;
}
