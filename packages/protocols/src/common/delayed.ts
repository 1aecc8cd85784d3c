import { ScmiMalformedError, type ProtocolHandle } from '@scmi-ts/core';

/**
 * Checks the id a delayed response names against the id its command was about: when they differ,
 * throws (and counts, through `ph.xfer.malformed`) the ScmiMalformedError `code` — "`message`'s
 * delayed response names `noun` `got`, not `id`" — as Linux's clock and voltage clients refuse
 * such a reply (-EPROTO). Shared by the Clock, Voltage and Reset clients. @internal
 *
 * @example
 * ```ts
 * checkDelayedId(ph, 'RESET', 'domain', domainId, id, 'E_DOMAIN_ID');
 * ```
 */
export function checkDelayedId(
  ph: ProtocolHandle,
  message: string,
  noun: string,
  got: number,
  id: number,
  code: string,
): void {
  if (got === id) return;
  throw ph.xfer.malformed(
    new ScmiMalformedError(`${message}'s delayed response names ${noun} ${got}, not ${id}`, code),
  );
}
