import type { PayloadReader } from '@scmi-ts/core';

/**
 * A vendor protocol (id 0x80–0xFF) served by a {@link ScmiPlatform} beside its built-in ones, given
 * in `ScmiPlatformOptions.vendorProtocols`: a firmware engineer's model of their platform's own
 * protocols (NXP's i.MX95 System Manager has 0x81–0x84), or a test author's.
 *
 * The platform answers the common messages itself, as for a built-in protocol: PROTOCOL_VERSION
 * (`version`, or the version the agent negotiated), PROTOCOL_ATTRIBUTES
 * ({@link PlatformVendorProtocol.attributes}), PROTOCOL_MESSAGE_ATTRIBUTES (each command's
 * `attributes`, NOT_FOUND for a message id `commands` lacks) and NEGOTIATE_PROTOCOL_VERSION
 * (0x10: `version`'s major with a minor up to its own; NOT_SUPPORTED otherwise). A message id
 * `commands` lacks is answered NOT_FOUND (NOT_SUPPORTED with `behaviour.unknownMessage`), a
 * payload of a size the command does not take PROTOCOL_ERROR, and message-level fault rules match
 * it like any protocol. It is listed by BASE_DISCOVER_LIST_PROTOCOLS and counted by Base
 * PROTOCOL_ATTRIBUTES for the agents in `agents`; for any other agent it is hidden as a built-in
 * protocol the agent may not use is: absent from those, every command answered NOT_SUPPORTED
 * (DENIED with `behaviour.hiddenProtocol`). Which agents may use it is fixed: it has no domains,
 * so BASE_SET_PROTOCOL_PERMISSIONS answers NOT_FOUND for it, as for System power, and
 * BASE_SET_DEVICE_PERMISSIONS does not touch it.
 *
 * Checked once, when the platform is created (`ScmiConfigError` naming the field, e.g.
 * `vendorProtocols[0].commands.3.requestSize`); its fields are read then, and changing the
 * objects afterwards changes nothing (the functions are kept, and called with their object as
 * `this`).
 *
 * Notifications and delayed responses work as for a built-in protocol, through the P2A channel: a
 * `*_NOTIFY` command (`p2a: true`) records the agent's subscriptions with
 * {@link PlatformVendorRequest.setNotify}, and the platform's owner posts each event with
 * `ScmiPlatform.postVendorNotification`, which sends it to the subscribed agents; an asynchronous
 * command answers now and completes later with {@link PlatformVendorRequest.respondLater}, whose
 * reply goes as the DELAYED_RESPONSE.
 *
 * Limits: handlers are synchronous (a delayed response is a later synchronous `complete`, not a
 * Promise). Its functions cannot be posted to a worker thread: for a platform in a worker (the
 * transports' worker modes), give them where the worker entry builds the platform, as it builds
 * the rest (`new ScmiPlatform(config, { clock, vendorProtocols })` in the worker's own module);
 * options that cross from another thread as data have none.
 *
 * @example
 * ```ts
 * const misc: PlatformVendorProtocol = {
 *   protocolId: 0x84,
 *   name: 'imx-misc',
 *   version: 0x10000,
 *   commands: {
 *     0x4: {
 *       name: 'MISC_CONTROL_GET',
 *       requestSize: 4, // control_id
 *       handle: (req) => {
 *         const value = readControl(req.payload.u32());
 *         return { status: 0, returns: new PayloadWriter(4).u32(value).bytesWritten() };
 *       },
 *     },
 *     0x5: {
 *       name: 'MISC_CONTROL_NOTIFY',
 *       requestSize: 8, // control_id, notify_enable
 *       p2a: true,
 *       handle: (req) => {
 *         const id = req.payload.u32();
 *         req.setNotify(0x0, id, req.payload.u32() === 1); // MISC_CONTROL_EVENT about `id`
 *         return { status: 0 };
 *       },
 *     },
 *   },
 * };
 * // Later, when control 7 changes: to every agent that enabled it.
 * platform.postVendorNotification(0x84, 0x0, 7, new PayloadWriter(8).u32(7).u32(value).bytesWritten());
 * ```
 */
export interface PlatformVendorProtocol {
  /** The protocol id: an integer in 0x80 … 0xFF, each given once. */
  readonly protocolId: number;
  /** A non-empty name; the option's error messages use it (a protocol id given twice). */
  readonly name: string;
  /**
   * PROTOCOL_VERSION's answer (major in bits 31:16, minor in 15:0): a uint32. It is reported as
   * given, whatever `behaviour.versionNegotiation` says.
   */
  readonly version: number;
  /**
   * The configured agent ids that may use the protocol (each once); default every agent. An
   * empty list hides it from every agent.
   */
  readonly agents?: readonly number[];
  /**
   * PROTOCOL_ATTRIBUTES: the reply for the agent of `request` (its `payload` is empty). When
   * absent: SUCCESS and one word 0. The same rules as {@link PlatformVendorCommand.handle}'s
   * apply to it and to what it returns; it is no command, so `request.setNotify` and
   * `request.respondLater` throw there (answered GENERIC_ERROR). `request.p2a` and
   * `request.maxNotificationPayload` tell it what to advertise.
   */
  attributes?(request: PlatformVendorRequest): PlatformVendorReply;
  /**
   * The commands, by message id: a key is an integer in 0x3 … 0xFF written as a number
   * (`{ 0x3: … }`); 0x0–0x2 are answered by the platform, and so is 0x10
   * (NEGOTIATE_PROTOCOL_VERSION) unless `behaviour.versionNegotiation` is false. May be empty.
   */
  readonly commands: Readonly<Record<number, PlatformVendorCommand>>;
}

/**
 * One command (message) of a {@link PlatformVendorProtocol}.
 *
 * `handle` runs synchronously while the platform processes the command; what it returns is checked
 * and copied before the platform goes on, so keeping and changing `returns` afterwards changes
 * nothing sent. A bug in it is answered GENERIC_ERROR and counted in `handlerErrors` (platform-wide
 * and for the agent, as for a built-in protocol's handler), never thrown to the transport: when it
 * throws, returns something other than a {@link PlatformVendorReply} (a Promise included), a
 * status that is not an integer in the int32 range, `returns` that are not a `Uint8Array`, or, with
 * SUCCESS, more bytes of `returns` than `request.maxReturns` (the reply would not fit the agent's
 * link: answer a smaller part, or an error status, instead). One exception, as for built-in
 * protocols: the `E_TRUNCATED` error of reading past the end of `request.payload` is answered
 * PROTOCOL_ERROR (with several `requestSize`s, a payload too short for what its first words
 * announce).
 *
 * @example
 * ```ts
 * const echo: PlatformVendorCommand = {
 *   name: 'ECHO',
 *   requestSize: [0, 4, 8],
 *   handle: (req) => ({ status: 0, returns: req.payload.bytes(req.payload.remaining) }),
 * };
 * ```
 */
export interface PlatformVendorCommand {
  /** A non-empty name, for the reader (the platform knows the command by its message id). */
  readonly name?: string;
  /**
   * The request payload size(s) the command takes, in bytes (after the header): a non-negative
   * integer, or a non-empty array of them. Any other size is answered PROTOCOL_ERROR before
   * `handle` runs.
   */
  readonly requestSize: number | readonly number[];
  /** PROTOCOL_MESSAGE_ATTRIBUTES' answer for this message id: a uint32; default 0. */
  readonly attributes?: number;
  /**
   * Whether the command only makes sense with a P2A channel (a `*_NOTIFY` command, a command that
   * is always asynchronous); default false. When true, an agent whose link has no P2A channel is
   * answered NOT_SUPPORTED before `handle` runs, and PROTOCOL_MESSAGE_ATTRIBUTES answers it
   * NOT_FOUND, as for a built-in `*_NOTIFY` (virtio-scmi: behave as if not implemented). A command
   * that is asynchronous only on request (a flag in its payload, as RESET's) leaves it false and
   * answers NOT_SUPPORTED itself when {@link PlatformVendorRequest.p2a} is false.
   */
  readonly p2a?: boolean;
  /** Processes the command; see above for what a bug in it gets. */
  handle(request: PlatformVendorRequest): PlatformVendorReply;
}

/**
 * One command to a {@link PlatformVendorProtocol}, as its handler sees it. Valid during the call
 * only: the payload is a view of the transport's request bytes.
 *
 * @example
 * ```ts
 * const handle = (req: PlatformVendorRequest): PlatformVendorReply =>
 *   req.version < 0x20000
 *     ? { status: ScmiStatus.NOT_SUPPORTED }
 *     : { status: 0, returns: new PayloadWriter(4).u32(req.agentId).bytesWritten() };
 * ```
 */
export interface PlatformVendorRequest {
  /** The id of the agent that sent it. */
  readonly agentId: number;
  /** That agent's configured name. */
  readonly agentName: string;
  /** The message id (1 for PROTOCOL_ATTRIBUTES). */
  readonly messageId: number;
  /**
   * The protocol version in force for the agent: the one it chose with NEGOTIATE_PROTOCOL_VERSION
   * on this connection, else the protocol's own `version`.
   */
  readonly version: number;
  /**
   * A bounds-checked reader over the request payload, whose size the platform already checked
   * against `requestSize`.
   */
  readonly payload: PayloadReader;
  /**
   * How many bytes of return values (after the status) fit a reply on the agent's link: its
   * `maxMsgSize` less the 4-byte status. The same bound applies to a delayed response's.
   */
  readonly maxReturns: number;
  /**
   * Whether the agent's link has a P2A channel, which notifications and delayed responses need:
   * without one, {@link PlatformVendorRequest.respondLater} and enabling with
   * {@link PlatformVendorRequest.setNotify} throw. Advertise what depends on it (an attribute bit)
   * only when true, as built-in protocols do.
   */
  readonly p2a: boolean;
  /**
   * How many payload bytes (after the header) a notification may have on the agent's link: its
   * `maxMsgSize`. A larger one is dropped for that agent when posted (counted in
   * `notificationsDropped`), so a `*_NOTIFY` command that would enable one answers NOT_SUPPORTED
   * instead, as the built-in ones do.
   */
  readonly maxNotificationPayload: number;
  /**
   * Subscribes the agent to notification `notificationId` of this protocol about `source` (a
   * uint32 the protocol defines: a domain, an RTC, a button), or unsubscribes it (`enable`
   * false): what a built-in `*_NOTIFY` command does. `ScmiPlatform.postVendorNotification` then
   * sends the notification to the agents subscribed to it, while they are connected.
   *
   * Applied when `handle` returns SUCCESS that reaches the agent (its link still connected, and
   * able to carry a status), in the order called; any other reply (or a handler
   * bug) applies none. May be called several times in one command (a `*_NOTIFY` whose flags name
   * several notifications). Subscriptions end, as built-in ones, when the agent disconnects or
   * BASE_RESET_AGENT_CONFIGURATION resets it; enabling twice, or disabling what is not enabled,
   * is not an error.
   *
   * @throws Error — a handler bug, answered GENERIC_ERROR and logged in `handlerErrorLog` — when
   *   `notificationId` is not an integer in 0 … 0xFF (the header's message id field), `source`
   *   not a uint32 or `enable` not a boolean; when enabling on a link without a P2A channel (mark
   *   the command `p2a: true`, or answer NOT_SUPPORTED); when called from `attributes` (the
   *   protocol's PROTOCOL_ATTRIBUTES). Called through a request kept past its `handle`, it throws
   *   to that caller (the command was answered already) and changes nothing.
   * @example
   * ```ts
   * // BBM_BUTTON_NOTIFY(flags): bit 0 enables BBM_BUTTON_EVENT (0x1), one button, source 0.
   * const notify: PlatformVendorCommand = {
   *   requestSize: 4,
   *   p2a: true,
   *   handle: (req) => {
   *     const flags = req.payload.u32();
   *     if ((flags & ~1) !== 0) return { status: ScmiStatus.INVALID_PARAMETERS };
   *     req.setNotify(0x1, 0, flags === 1);
   *     return { status: ScmiStatus.SUCCESS };
   *   },
   * };
   * ```
   */
  setNotify(notificationId: number, source: number, enable: boolean): void;
  /**
   * Makes the command asynchronous: `handle` returns its immediate reply (SUCCESS) and, `ms`
   * later on the platform's clock, `complete` runs — apply the change there — and its reply is
   * posted to the agent as the command's DELAYED_RESPONSE (header type 2, same token), as a
   * built-in asynchronous command does.
   *
   * Only when `handle` returns SUCCESS: with any other reply (or a handler bug) the operation is
   * dropped, `complete` never runs and no delayed response is sent (an error status means the
   * command did nothing). Once accepted, the operation is the platform's, as a built-in one: it
   * counts in `pendingOperations`; it completes even if the agent disconnects first, its delayed
   * response then not sent (counted in `cancelledOnDisconnect`), not even to a new connection of
   * the agent; `close` cancels it (`complete` never runs). The delayed response goes through the
   * P2A fault rules (stage `delayed-response`) and is posted again when the link refuses it
   * (`maxPostRetries`). Its reply follows the rules of `handle`'s — checked, copied, an error
   * status sent alone, at most `maxReturns` bytes of return values — and a bug in `complete`
   * (it throws, or its reply breaks them) is answered GENERIC_ERROR in the delayed response and
   * counted in `handlerErrors` and `handlerErrorLog` with the command's ids and token. The
   * platform keeps no limit of pending operations for a vendor protocol (`maxPendingAsync` is the
   * built-in protocols'): answer BUSY from `handle` when yours has one.
   *
   * @throws Error — a handler bug, answered GENERIC_ERROR — when `ms` is not a non-negative
   *   finite number or `complete` not a function; when the link has no P2A channel (check
   *   {@link PlatformVendorRequest.p2a} first and answer NOT_SUPPORTED, as built-ins do) or no
   *   room for a delayed response at all; when called twice for one command or from
   *   `attributes`. Called through a request kept past its `handle`, it throws to that caller
   *   and arms nothing.
   * @example
   * ```ts
   * // BBM_RTC_TIME_SET, asynchronous: the new time is in effect after 2 ms.
   * handle: (req) => {
   *   if (!req.p2a) return { status: ScmiStatus.NOT_SUPPORTED };
   *   const seconds = req.payload.u32();
   *   req.respondLater(2, () => {
   *     rtc.seconds = seconds;
   *     return { status: ScmiStatus.SUCCESS, returns: new PayloadWriter(4).u32(seconds).bytesWritten() };
   *   });
   *   return { status: ScmiStatus.SUCCESS };
   * },
   * ```
   */
  respondLater(ms: number, complete: () => PlatformVendorReply): void;
}

/**
 * What a vendor protocol's handler answers: an SCMI status (`ScmiStatus`, an integer in the
 * int32 range) and, with SUCCESS, the return values. An error reply is sent as its status alone,
 * as the SCMI transports require: `returns` is then not sent.
 *
 * @example
 * ```ts
 * const ok: PlatformVendorReply = { status: ScmiStatus.SUCCESS, returns: new Uint8Array(8) };
 * const refused: PlatformVendorReply = { status: ScmiStatus.DENIED };
 * ```
 */
export interface PlatformVendorReply {
  /** The SCMI status. */
  readonly status: number;
  /** The return values (at most `maxReturns` bytes with SUCCESS); default none. */
  readonly returns?: Uint8Array;
}
