import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * `node:diagnostics_channel` names core publishes on, so tools can trace transfers and teardown
 * without patching code. Messages are plain objects; publishing costs nothing without subscribers.
 *
 * - `scmi-ts:tx` `{ agent, channel, protocolId, messageId, token }` — a command was sent.
 * - `scmi-ts:rx` `{ agent, channel, header, kind }` — a message was received (`kind`: response,
 *   delayed-response, notification).
 * - `scmi-ts:timeout` `{ agent, channel, protocolId, messageId, token, phase }`.
 * - `scmi-ts:bad-message` `{ agent, channel, reason, header, cause? }` — `cause`: what the
 *   transport threw reading the message (a `fetchNotification` that throws: counted `invalid`).
 * - `scmi-ts:teardown` `{ agent, step, resource, reason }` — each devres quiesce/release step.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe(TRACE_CHANNELS.timeout, (m) => console.log('timeout', m));
 * ```
 */
export const TRACE_CHANNELS = {
  /** A command was sent. */
  tx: 'scmi-ts:tx',
  /** A message was received. */
  rx: 'scmi-ts:rx',
  /** A transfer timed out. */
  timeout: 'scmi-ts:timeout',
  /** A message was rejected. */
  badMessage: 'scmi-ts:bad-message',
  /** A teardown step ran. */
  teardown: 'scmi-ts:teardown',
} as const;

/** @internal The channel objects, created once. */
export const trace: { readonly [K in keyof typeof TRACE_CHANNELS]: Channel } = {
  tx: channel(TRACE_CHANNELS.tx),
  rx: channel(TRACE_CHANNELS.rx),
  timeout: channel(TRACE_CHANNELS.timeout),
  badMessage: channel(TRACE_CHANNELS.badMessage),
  teardown: channel(TRACE_CHANNELS.teardown),
};
