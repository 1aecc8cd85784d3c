import {
  ScmiError,
  describeArg,
  type ProtocolHandle,
  type ProtocolSubscribeOptions,
  type ScmiNotification,
} from '@scmi-ts/core';

/**
 * A protocol client's typed notification handler: the notification decoded (the report Linux's
 * `fill_custom_report` makes of it), and the notification itself (its `timestamp`, its raw
 * `payload`). It may be async; a throw or rejection is counted in the agent's
 * `diagnostics.notifications.handlerErrors`, as any handler's.
 *
 * @example
 * ```ts
 * const log: ProtocolEventHandler<ClockRateNotification> = (event, n) =>
 *   console.log(n.timestamp, event.clockId, event.rate);
 * ```
 */
export type ProtocolEventHandler<T> = (
  event: T,
  notification: ScmiNotification,
) => void | Promise<void>;

/**
 * Subscribes `handler` to event `eventId` of `ph`'s protocol, each notification decoded with
 * `decode` first (the hub delivers only payloads of the size the event allows, so a decoder of
 * that size does not throw; if one did, it would count as the handler's error). `what` names the
 * method in errors.
 *
 * @throws (rejects) ScmiError `E_ARGUMENT` when `handler` is not a function (nothing sent);
 * otherwise as `ProtocolHandle.subscribe`.
 * @internal
 */
export function subscribeDecoded<T>(
  ph: ProtocolHandle,
  eventId: number,
  decode: (notification: ScmiNotification) => T,
  handler: ProtocolEventHandler<T>,
  options: ProtocolSubscribeOptions | undefined,
  what: string,
): Promise<() => Promise<void>> {
  const given: unknown = handler;
  if (typeof given !== 'function') {
    return Promise.reject(
      new ScmiError(
        'E_ARGUMENT',
        `${what}: the handler must be a function, not ${describeArg(given)}`,
      ),
    );
  }
  return ph.subscribe(eventId, (n) => handler(decode(n), n), options);
}
