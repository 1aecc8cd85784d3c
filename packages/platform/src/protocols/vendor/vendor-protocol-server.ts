import { CommonMessageId, MSG_STATUS_SIZE, ScmiStatus } from '@scmi-ts/core';
import { types } from 'node:util';
import {
  fail,
  ok,
  words,
  type MessageHandler,
  type PlatformRequest,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import type {
  CheckedVendorCommand,
  CheckedVendorProtocol,
  VendorFunction,
} from './check-vendor-protocols.js';
import type { PlatformVendorRequest } from './platform-vendor-protocol.js';

const EMPTY = new Uint8Array(0);
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/**
 * The server side of a user's vendor protocol (`PlatformVendorProtocol`): the engine answers
 * its common messages, sizes and hidden-protocol rules as for a built-in one; this runs the user's
 * functions and checks what they return. A reply that breaks the contract is thrown as an `Error`,
 * which the engine answers GENERIC_ERROR and counts in `handlerErrors`, as a throwing handler.
 * @internal
 */
export class VendorProtocolServer implements ProtocolServer {
  public readonly id: number;
  public readonly version: number;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #protocol: CheckedVendorProtocol;

  public constructor(protocol: CheckedVendorProtocol) {
    this.#protocol = protocol;
    this.id = protocol.protocolId;
    this.version = protocol.version;
    this.messages = new Map(
      protocol.commands.map((c): [number, MessageHandler] => [c.messageId, this.#handler(c)]),
    );
  }

  public attributes(req: PlatformRequest): Reply {
    const fn = this.#protocol.attributes;
    if (fn === undefined) return ok(words(0));
    return this.#call(req, CommonMessageId.PROTOCOL_ATTRIBUTES, 'PROTOCOL_ATTRIBUTES', fn);
  }

  #handler(command: CheckedVendorCommand): MessageHandler {
    return {
      size: command.requestSize,
      attributes: command.attributes,
      run: (req) => this.#call(req, command.messageId, command.name, command.handle),
    };
  }

  /** Runs `fn` for `req` and checks its reply (throws when it breaks the contract). */
  #call(req: PlatformRequest, messageId: number, what: string, fn: VendorFunction): Reply {
    const maxReturns = Math.max(0, req.link.maxMsgSize - MSG_STATUS_SIZE);
    const request: PlatformVendorRequest = {
      agentId: req.agent.id,
      agentName: req.agent.config.name,
      messageId,
      version: req.version,
      payload: req.r,
      maxReturns,
    };
    const reply: unknown = fn(request);
    const where = `vendor protocol ${this.#protocol.name} (0x${this.id.toString(16)}) ${what}`;
    if (isThenable(reply)) {
      // An async handler by mistake: its rejection, if any, must not become an unhandled one.
      Promise.resolve(reply).catch(() => undefined);
      throw new Error(`${where}: returned a Promise (handlers are synchronous)`);
    }
    if (typeof reply !== 'object' || reply === null) {
      throw new Error(`${where}: returned ${typeof reply}, not a reply`);
    }
    const { status, returns } = reply as { readonly status?: unknown; readonly returns?: unknown };
    if (
      typeof status !== 'number' ||
      !Number.isInteger(status) ||
      status < INT32_MIN ||
      status > INT32_MAX
    ) {
      throw new Error(`${where}: status ${String(status)} is not an int32`);
    }
    if (returns !== undefined && !types.isUint8Array(returns)) {
      throw new Error(`${where}: returns is not a Uint8Array`);
    }
    // An error reply is its status alone (the engine sends no return values with it).
    if (status !== ScmiStatus.SUCCESS) return fail(status);
    const bytes = returns ?? EMPTY;
    if (bytes.byteLength > maxReturns) {
      throw new Error(
        `${where}: ${bytes.byteLength} bytes of returns, more than the ${maxReturns} that fit the link`,
      );
    }
    // Not copied here: the engine encodes the response, copying these bytes, as soon as this
    // returns, so a handler that keeps the array and changes it later changes nothing sent.
    return ok(bytes);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
