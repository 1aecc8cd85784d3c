import { CommonMessageId, MSG_STATUS_SIZE, ScmiStatus, formatValue } from '@scmi-ts/core';
import { types } from 'node:util';
import { isIntegerIn } from '../../config/config-checks.js';
import {
  fail,
  ok,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
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
const UINT32_MAX = 0xffffffff;
/** The largest message id: the header's field has 8 bits. */
const LAST_MESSAGE_ID = 0xff;

/** What a command's handler asked for, applied when it answers SUCCESS. */
interface Effects {
  readonly notify: [notificationId: number, source: number, enable: boolean][];
  later: { readonly ms: number; readonly complete: () => unknown } | undefined;
}

/**
 * The server side of a user's vendor protocol (`PlatformVendorProtocol`): the engine answers
 * its common messages, sizes and hidden-protocol rules as for a built-in one; this runs the user's
 * functions and checks what they return. A reply that breaks the contract is thrown as an `Error`,
 * which the engine answers GENERIC_ERROR and counts in `handlerErrors`, as a throwing handler.
 * A command's subscriptions (`setNotify`) and asynchronous completion (`respondLater`) are
 * applied once its handler answered SUCCESS, through the engine's own mechanisms
 * (`AgentSession.subscribe`, `PlatformServices.later`). @internal
 */
export class VendorProtocolServer implements ProtocolServer {
  public readonly id: number;
  public readonly version: number;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #protocol: CheckedVendorProtocol;
  /** Timer tag of its pending asynchronous commands. */
  readonly #tag: string;

  public constructor(services: PlatformServices, protocol: CheckedVendorProtocol) {
    this.#p = services;
    this.#protocol = protocol;
    this.id = protocol.protocolId;
    this.version = protocol.version;
    this.#tag = `vendor 0x${protocol.protocolId.toString(16)}`;
    this.messages = new Map(
      protocol.commands.map((c): [number, MessageHandler] => [c.messageId, this.#handler(c)]),
    );
  }

  public attributes(req: PlatformRequest): Reply {
    const fn = this.#protocol.attributes;
    if (fn === undefined) return ok(words(0));
    return this.#call(req, CommonMessageId.PROTOCOL_ATTRIBUTES, 'PROTOCOL_ATTRIBUTES', fn, false);
  }

  #handler(command: CheckedVendorCommand): MessageHandler {
    return {
      size: command.requestSize,
      attributes: command.attributes,
      p2a: command.p2a,
      run: (req) => this.#call(req, command.messageId, command.name, command.handle, true),
    };
  }

  /**
   * Runs `fn` for `req` and checks its reply (throws when it breaks the contract); with SUCCESS,
   * applies what a command's handler asked for (`isCommand`: `setNotify`, `respondLater`).
   */
  #call(
    req: PlatformRequest,
    messageId: number,
    what: string,
    fn: VendorFunction,
    isCommand: boolean,
  ): Reply {
    const maxReturns = Math.max(0, req.link.maxMsgSize - MSG_STATUS_SIZE);
    const where = `vendor protocol ${this.#protocol.name} (0x${this.id.toString(16)}) ${what}`;
    const p2a = req.link.p2a;
    const effects: Effects = { notify: [], later: undefined };
    let live = true;
    /** Refuses a call of `method` outside a command's handler while it runs. */
    const during = (method: string): void => {
      if (!isCommand) throw new Error(`${where}: ${method} is for a command's handle`);
      if (!live) throw new Error(`${where}: ${method} after handle returned`);
    };
    const request: PlatformVendorRequest = {
      agentId: req.agent.id,
      agentName: req.agent.config.name,
      messageId,
      version: req.version,
      payload: req.r,
      maxReturns,
      p2a,
      maxNotificationPayload: req.link.maxMsgSize,
      setNotify: (notificationId: unknown, source: unknown, enable: unknown): void => {
        during('setNotify');
        if (!isIntegerIn(notificationId, 0, LAST_MESSAGE_ID)) {
          throw new RangeError(
            `${where}: setNotify notificationId ${formatValue(notificationId)} is not an integer in 0 … 0xFF`,
          );
        }
        if (!isIntegerIn(source, 0, UINT32_MAX)) {
          throw new RangeError(`${where}: setNotify source ${formatValue(source)} is not a uint32`);
        }
        if (typeof enable !== 'boolean') {
          throw new TypeError(`${where}: setNotify enable ${formatValue(enable)} is not a boolean`);
        }
        if (enable && !p2a) {
          throw new Error(
            `${where}: setNotify enables a notification on a link without a P2A channel (give the command p2a: true)`,
          );
        }
        effects.notify.push([notificationId, source, enable]);
      },
      respondLater: (ms: unknown, complete: unknown): void => {
        during('respondLater');
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
          throw new RangeError(
            `${where}: respondLater ms ${formatValue(ms)} is not a non-negative finite number`,
          );
        }
        if (typeof complete !== 'function') {
          throw new TypeError(`${where}: respondLater complete is not a function`);
        }
        if (effects.later !== undefined) {
          throw new Error(`${where}: respondLater called twice for one command`);
        }
        if (!p2a) {
          throw new Error(
            `${where}: respondLater on a link without a P2A channel (check req.p2a and answer NOT_SUPPORTED)`,
          );
        }
        if (!this.#p.delayedFits(req, 0)) {
          throw new Error(`${where}: respondLater on a link with no room for a delayed response`);
        }
        effects.later = { ms, complete: complete as () => unknown };
      },
    };
    let reply: unknown;
    try {
      reply = fn(request);
    } finally {
      live = false;
    }
    const checked = this.#check(reply, where, maxReturns);
    if (checked.status !== ScmiStatus.SUCCESS) return checked;
    // Nothing applies when the link cannot carry even a status: the engine answers PROTOCOL_ERROR.
    if (req.link.maxMsgSize < MSG_STATUS_SIZE) return checked;
    // The delayed response first: arming it may throw (a clock that cannot arm a timer), and the
    // command is then answered GENERIC_ERROR with nothing subscribed. The operation is the
    // platform's once accepted, as a built-in one: it completes even when the agent's link went
    // away while the handler ran, its delayed response then counted cancelled.
    const later = effects.later;
    if (later !== undefined) {
      this.#p.later(req, later.ms, this.#tag, true, () =>
        this.#check(later.complete(), `${where} (respondLater complete)`, maxReturns),
      );
    }
    // A subscription needs the connection the handler ran for: one that went away meanwhile (a
    // notification the handler posted made the link drop the agent) took its subscriptions with
    // it, and a later connection of the agent must not inherit this one.
    if (req.agent.link !== req.link) return checked;
    for (const [notificationId, source, enable] of effects.notify) {
      req.agent.subscribe(this.id, notificationId, source, enable);
    }
    return checked;
  }

  /** Checks the reply of a vendor protocol's function (throws when it breaks the contract). */
  #check(reply: unknown, where: string, maxReturns: number): Reply {
    if (isThenable(reply)) {
      // An async handler by mistake: its rejection, if any, must not become an unhandled one.
      Promise.resolve(reply).catch(() => undefined);
      throw new Error(`${where}: returned a Promise (handlers are synchronous)`);
    }
    if (typeof reply !== 'object' || reply === null) {
      throw new Error(`${where}: returned ${typeof reply}, not a reply`);
    }
    const { status, returns } = reply as { readonly status?: unknown; readonly returns?: unknown };
    if (!isIntegerIn(status, INT32_MIN, INT32_MAX)) {
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
