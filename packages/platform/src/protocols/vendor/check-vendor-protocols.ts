import { CommonMessageId, SCMI_VENDOR_PROTOCOL_BASE, scmiProtocolName } from '@scmi-ts/core';
import { array, bool, fail, join, object, show } from '../../config/config-checks.js';
import type {
  PlatformVendorCommand,
  PlatformVendorProtocol,
  PlatformVendorReply,
  PlatformVendorRequest,
} from './platform-vendor-protocol.js';

/** A vendor protocol's function, bound to the object it came from. @internal */
export type VendorFunction = (request: PlatformVendorRequest) => PlatformVendorReply;

/** A {@link PlatformVendorCommand} as checked: its data copied, its handler bound. @internal */
export interface CheckedVendorCommand {
  readonly messageId: number;
  /** Its name, or its message id in hexadecimal. */
  readonly name: string;
  readonly requestSize: number | readonly number[];
  readonly attributes: number;
  /** Whether it needs a P2A channel (`PlatformVendorCommand.p2a`). */
  readonly p2a: boolean;
  readonly handle: VendorFunction;
}

/** A {@link PlatformVendorProtocol} as checked: its data copied, its functions bound. @internal */
export interface CheckedVendorProtocol {
  readonly protocolId: number;
  readonly name: string;
  readonly version: number;
  /** The agents that may use it (every configured agent when the option gave none). */
  readonly agents: readonly number[];
  readonly attributes: VendorFunction | undefined;
  readonly commands: readonly CheckedVendorCommand[];
}

const LAST_VENDOR_ID = 0xff;
const FIRST_STANDARD_ID = 0x10;
const LAST_STANDARD_ID = 0x7f;
const FIRST_COMMAND_ID = 0x3;
const LAST_MESSAGE_ID = 0xff;
const NEGOTIATE: number = CommonMessageId.NEGOTIATE_PROTOCOL_VERSION;
const COMMON_NAMES = ['PROTOCOL_VERSION', 'PROTOCOL_ATTRIBUTES', 'PROTOCOL_MESSAGE_ATTRIBUTES'];

const PROTOCOL_FIELDS: readonly (keyof PlatformVendorProtocol)[] = [
  'protocolId',
  'name',
  'version',
  'agents',
  'attributes',
  'commands',
];

const COMMAND_FIELDS: readonly (keyof PlatformVendorCommand)[] = [
  'name',
  'requestSize',
  'attributes',
  'p2a',
  'handle',
];

/** `0x81` (`-0x1` for a negative number). */
function hex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/**
 * Checks the `vendorProtocols` option of a platform whose configured agents are `agentIds` and
 * whose behaviour says `versionNegotiation`, and returns a checked copy. @internal
 *
 * @throws ScmiConfigError naming the field (`vendorProtocols[1].commands.3.requestSize`) for the
 *   first invalid value, or a field the types do not declare.
 */
export function checkVendorProtocols(
  value: unknown,
  agentIds: readonly number[],
  versionNegotiation: boolean,
): CheckedVendorProtocol[] {
  const checked: CheckedVendorProtocol[] = [];
  array(value, 'vendorProtocols').forEach((v, i) => {
    checked.push(protocol(v, join('vendorProtocols', i), agentIds, versionNegotiation, checked));
  });
  return checked;
}

function protocol(
  value: unknown,
  path: string,
  agentIds: readonly number[],
  versionNegotiation: boolean,
  before: readonly CheckedVendorProtocol[],
): CheckedVendorProtocol {
  const o = object(value, path, PROTOCOL_FIELDS);
  const protocolId = vendorId(o.protocolId, join(path, 'protocolId'));
  const twin = before.findIndex((p) => p.protocolId === protocolId);
  if (twin !== -1) {
    const first = before[twin] as CheckedVendorProtocol;
    fail(
      join(path, 'protocolId'),
      `${hex(protocolId)} is already vendorProtocols[${twin}] (${first.name}): each protocol id once`,
    );
  }
  const name = text(o.name, join(path, 'name'));
  const version = uint32(o.version, join(path, 'version'));
  const agents = o.agents === undefined ? agentIds : agentList(o.agents, path, agentIds);
  const attributes = optionalFunction(value, o.attributes, join(path, 'attributes'));
  const commands = commandList(o.commands, join(path, 'commands'), versionNegotiation);
  return { protocolId, name, version, agents, attributes, commands };
}

function vendorId(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    return fail(path, `must be an integer in 0x80 … 0xFF, got ${show(value)}`);
  }
  if (value < SCMI_VENDOR_PROTOCOL_BASE || value > LAST_VENDOR_ID) {
    fail(path, `must be a vendor protocol id in 0x80 … 0xFF, got ${hex(value)}${standard(value)}`);
  }
  return value;
}

/** What a standard protocol id is, for an error message: ` (the standard clock protocol)`. */
function standard(id: number): string {
  if (id < FIRST_STANDARD_ID || id > LAST_STANDARD_ID) return '';
  const name = scmiProtocolName(id);
  return name.startsWith('0x') ? ' (a standard protocol id)' : ` (the standard ${name} protocol)`;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string') return fail(path, `must be a string, got ${show(value)}`);
  if (value.length === 0) fail(path, 'must not be empty');
  return value;
}

function uint32(value: unknown, path: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    value > 0xffffffff
  ) {
    return fail(path, `must be an integer in 0 … 0xFFFFFFFF (uint32), got ${show(value)}`);
  }
  return value;
}

function agentList(value: unknown, path: string, agentIds: readonly number[]): number[] {
  const at = join(path, 'agents');
  const ids = array(value, at).map((id, i) => {
    if (typeof id !== 'number' || !agentIds.includes(id)) {
      return fail(
        join(at, i),
        `must be the id of a configured agent (${agentIds.join(', ')}), got ${show(id)}`,
      );
    }
    return id;
  });
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i) fail(join(at, i), `duplicates agent ${id}`);
  });
  return ids;
}

/** An optional function of `owner`, bound to it (called with `owner` as `this`). */
function optionalFunction(
  owner: unknown,
  value: unknown,
  path: string,
): VendorFunction | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') return fail(path, `must be a function, got ${show(value)}`);
  const fn = value as VendorFunction;
  return (request) => fn.call(owner, request);
}

function commandList(
  value: unknown,
  path: string,
  versionNegotiation: boolean,
): CheckedVendorCommand[] {
  // A plain object only: a Map (or any class instance) would pass as an object and, its entries
  // not being own keys, serve no command at all.
  const proto: unknown =
    typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    // Object.prototype of any realm (a vm context's too) has no prototype of its own.
    (proto !== null && Object.getPrototypeOf(proto) !== null)
  ) {
    return fail(
      path,
      `must be a plain object of commands by message id ({ 0x3: … }), got ${show(value)}`,
    );
  }
  const commands = value as Readonly<Record<string, unknown>>;
  return Object.keys(commands).map((key) => {
    const at = join(path, key);
    const messageId = commandId(key, at, versionNegotiation);
    return command(commands[key], at, messageId);
  });
}

function commandId(key: string, path: string, versionNegotiation: boolean): number {
  // Keys are strings: `{ 0x3: … }` gives "3"; "0x3", "03" or "3.5" are not message ids.
  if (!/^(0|[1-9][0-9]{0,2})$/.test(key)) {
    return fail(path, 'must be a message id: an integer key in 0x3 … 0xFF ({ 0x3: … })');
  }
  const id = Number(key);
  if (id < FIRST_COMMAND_ID) {
    fail(path, `message id ${hex(id)} is ${COMMON_NAMES[id] ?? ''}, answered by the platform`);
  }
  if (id > LAST_MESSAGE_ID) fail(path, `must be a message id in 0x3 … 0xFF, got ${hex(id)}`);
  if (id === NEGOTIATE && versionNegotiation) {
    fail(
      path,
      'message id 0x10 is NEGOTIATE_PROTOCOL_VERSION, answered by the platform (unless behaviour.versionNegotiation is false)',
    );
  }
  return id;
}

function command(value: unknown, path: string, messageId: number): CheckedVendorCommand {
  const o = object(value, path, COMMAND_FIELDS);
  const name = o.name === undefined ? hex(messageId) : text(o.name, join(path, 'name'));
  const requestSize = sizes(o.requestSize, join(path, 'requestSize'));
  const attributes =
    o.attributes === undefined ? 0 : uint32(o.attributes, join(path, 'attributes'));
  const p2a = bool(o.p2a, join(path, 'p2a'), false);
  const handle = optionalFunction(value, o.handle, join(path, 'handle'));
  if (handle === undefined) return fail(join(path, 'handle'), 'must be a function, got undefined');
  return { messageId, name, requestSize, attributes, p2a, handle };
}

function sizes(value: unknown, path: string): number | readonly number[] {
  if (Array.isArray(value)) {
    return array(value, path, 1).map((n, i) => size(n, join(path, i)));
  }
  if (typeof value !== 'number') {
    return fail(path, `must be a size in bytes or a non-empty array of sizes, got ${show(value)}`);
  }
  return size(value, path);
}

function size(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail(path, `must be a non-negative integer (bytes), got ${show(value)}`);
  }
  return value;
}
