import { formatValue } from '@scmi-ts/core';
import { TeeError } from './tee-error.js';
import { TeeOrigin, TeeResult } from './tee-result.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses a UUID in its canonical text form into its 16 octets (RFC 4122 byte order, as OP-TEE's
 * `tee_uuid_to_octets` and Linux's `uuid_t` store it).
 *
 * @throws TeeError `TEE_ERROR_BAD_FORMAT` (origin API) when `text` is not a UUID.
 * @example
 * ```ts
 * parseTeeUuid('a8cfe406-d4f5-4a2e-9f8d-a25dc754c099')[0]; // 0xa8
 * ```
 */
export function parseTeeUuid(text: string): Uint8Array {
  if (!UUID_RE.test(text)) {
    throw new TeeError(TeeResult.BAD_FORMAT, TeeOrigin.API, `not a UUID: ${formatValue(text)}`);
  }
  const hex = text.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Formats 16 octets as a canonical lower-case UUID.
 *
 * @throws TeeError `TEE_ERROR_BAD_FORMAT` (origin API) when `octets` is not 16 bytes long.
 * @example
 * ```ts
 * formatTeeUuid(parseTeeUuid(PTA_SCMI_UUID)) === PTA_SCMI_UUID; // true
 * ```
 */
export function formatTeeUuid(octets: Uint8Array): string {
  if (octets.byteLength !== 16) {
    throw new TeeError(
      TeeResult.BAD_FORMAT,
      TeeOrigin.API,
      `a UUID has 16 octets, got ${octets.byteLength}`,
    );
  }
  const hex = Array.from(octets, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
