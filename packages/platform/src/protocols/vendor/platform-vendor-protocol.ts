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
 * Limits: commands are synchronous, and a vendor protocol sends no notification and no delayed
 * response. Its functions cannot be posted to a worker thread: for a platform in a worker (the
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
 *   },
 * };
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
   * apply to it and to what it returns.
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
   * `maxMsgSize` less the 4-byte status.
   */
  readonly maxReturns: number;
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
