import { ScmiError } from '@scmi-ts/core';
import type { DomainTable } from './domain-table.js';

/**
 * The `setNotifyEnabled` of a per-domain event (see core's `ScmiEventDescriptor`): one source
 * sends `send(id, enable)` for that domain; every source (`undefined`) sends it for each domain
 * that announced the notification, and succeeds when one of them did, as Linux's
 * `__scmi_enable_evt` counts a source enabled for every `set_notify_enabled` that succeeded and
 * fails only when none did. A domain that did not announce the notification (or that the platform
 * did not describe) is refused `E_NOT_SUPPORTED`, nothing sent, as Linux's core asks the
 * protocol's `is_notify_supported` first.
 *
 * @internal
 */
export function perDomainNotify<T>(
  domains: DomainTable<T>,
  supported: (info: T) => boolean,
  send: (id: number, enable: boolean) => Promise<void>,
): (source: number | undefined, enable: boolean) => Promise<void> {
  const announced = (id: number): boolean => {
    const info = domains.failures.has(id) ? undefined : domains.info(id);
    return info !== undefined && supported(info);
  };
  return async (source, enable) => {
    if (source !== undefined) {
      if (!announced(source)) {
        throw new ScmiError(
          'E_NOT_SUPPORTED',
          `domain ${source} does not announce this notification`,
        );
      }
      await send(source, enable);
      return;
    }
    let first: { error: unknown } | undefined;
    let done = 0;
    for (let id = 0; id < domains.count; id++) {
      if (!announced(id)) continue;
      try {
        await send(id, enable);
        done++;
      } catch (e) {
        first ??= { error: e };
      }
    }
    if (first !== undefined && done === 0) throw first.error as Error;
    if (done === 0) throw new ScmiError('E_NOT_SUPPORTED', 'no domain announces this notification');
  };
}

/**
 * The `sourceOf` of a per-domain event whose payload is agent_id, then the domain id: that id,
 * when it is one of the `count` domains. A notification about a domain the platform never
 * announced is not delivered (the hub counts it in `sourceErrors`): an every-source subscriber
 * could not look it up. Linux's `scmi_sensor_fill_custom_report` drops such a SENSOR_UPDATE;
 * here every protocol's events do.
 *
 * @internal
 */
export function domainSource(count: number, what: string): (payload: Uint8Array) => number {
  return (payload) => {
    const id = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(
      4,
      true,
    );
    if (id < count) return id;
    throw new ScmiError('E_SOURCE', `a notification about ${what} ${id}, of ${count}`);
  };
}
