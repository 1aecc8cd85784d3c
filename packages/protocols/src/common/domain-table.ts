import { RevokedError, ScmiError, ScmiShutdownError, type ProtocolHandle } from '@scmi-ts/core';
import { domainArg } from './args.js';

/** Bytes of an SCMI short name, NUL included (Linux `SCMI_SHORT_NAME_MAX_SIZE`). */
export const SHORT_NAME_SIZE = 16;

/**
 * What a protocol's init learnt of its domains (Linux keeps a `dom_info` array per protocol):
 * each domain's description, or the error that kept the platform from describing it.
 *
 * Linux's protocols describe every domain at init and go on past one whose attributes command
 * fails (its `dom_info` stays zeroed, its name empty); here such a domain is kept as a failure,
 * and asking for it throws that failure instead of answering with zeroes. Domain ids are 0 to
 * `count − 1`, as the platform's PROTOCOL_ATTRIBUTES announced them.
 *
 * @example
 * ```ts
 * const reset = agent.protocol(resetProtocolDriver);
 * for (const d of reset.domains.list) console.log(d.id, d.name);
 * for (const [id, error] of reset.domains.failures) console.warn(`domain ${id}:`, error);
 * ```
 */
export class DomainTable<T> {
  readonly #what: string;
  readonly #infos: (T | undefined)[];
  readonly #failures: ReadonlyMap<number, unknown>;

  private constructor(what: string, infos: (T | undefined)[], failures: Map<number, unknown>) {
    this.#what = what;
    this.#infos = infos;
    this.#failures = failures;
  }

  /**
   * Describes domains 0 to `count − 1` one after the other with `describe` (as Linux's init
   * loops do, one command in flight at a time); a domain whose description throws is recorded
   * as a failure and the walk goes on, except that a removal (the agent shutting down or revoked,
   * see {@link isRemovalError}) ends it: that error is thrown.
   *
   * @internal
   */
  public static async describe<T>(
    what: string,
    count: number,
    describe: (id: number) => Promise<T>,
  ): Promise<DomainTable<T>> {
    const infos: (T | undefined)[] = [];
    const failures = new Map<number, unknown>();
    for (let id = 0; id < count; id++) {
      try {
        infos.push(await describe(id));
      } catch (e) {
        if (isRemovalError(e)) throw e;
        infos.push(undefined);
        failures.set(id, e);
      }
    }
    return new DomainTable(what, infos, failures);
  }

  /** How many domains the platform announced (PROTOCOL_ATTRIBUTES). */
  public get count(): number {
    return this.#infos.length;
  }

  /** The domains the platform described, in id order (a failed one is left out). */
  public get list(): readonly T[] {
    return this.#infos.filter((i): i is T => i !== undefined);
  }

  /** The domains the platform failed to describe at init, by id, with the error. */
  public get failures(): ReadonlyMap<number, unknown> {
    return this.#failures;
  }

  /**
   * The description of domain `id`.
   *
   * @throws ScmiError `E_ARGUMENT` when `id` is not a domain id (0 to `count − 1`);
   * `E_DOMAIN_UNAVAILABLE`, its `cause` the init's error, when the platform failed to describe it.
   */
  public info(id: number): T {
    domainArg(id, this.count, this.#what);
    const info = this.#infos[id];
    if (info === undefined) {
      throw new ScmiError(
        'E_DOMAIN_UNAVAILABLE',
        `${this.#what} ${id} was not described by the platform at init`,
        { cause: this.#failures.get(id) },
      );
    }
    return info;
  }
}

/**
 * Whether `error` says the agent is going away (shutting down, or revoked by its removal): no
 * later command can succeed, so an init walk ends there instead of recording it against a domain.
 *
 * @internal
 */
export function isRemovalError(error: unknown): boolean {
  // The brands, not instanceof: an error from another copy of core or devres (two versions in one
  // node_modules) is a removal all the same.
  return RevokedError.is(error) || ScmiShutdownError.is(error);
}

/**
 * The name of resource `id`: its short name, or, when the platform announced an extended name
 * (an attributes bit, protocol version 3.0 or later), the one its `*_NAME_GET` returns. As in
 * Linux (`scmi_common_extended_name_get` is asked only for `PROTOCOL_REV_MAJOR(version) >= 0x3`),
 * a failed `*_NAME_GET` leaves the short name; its error is returned beside it. `sinceMajor` is
 * the first major version whose attributes carry the bit (Voltage: 2, as Linux's `voltage.c`).
 *
 * @internal
 */
export async function resourceName(
  ph: ProtocolHandle,
  nameGetMessageId: number,
  id: number,
  shortName: string,
  extended: boolean,
  sinceMajor = 3,
): Promise<{ name: string; nameError?: unknown }> {
  if (!extended || ph.version >>> 16 < sinceMajor) return { name: shortName };
  try {
    return { name: await ph.xfer.extendedName(nameGetMessageId, id) };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return { name: shortName, nameError: e };
  }
}

/**
 * Whether the platform implements `messageId` of the handle's protocol (PROTOCOL_MESSAGE_ATTRIBUTES,
 * as Linux's `protocol_msg_check`, which leaves the command out on any error: a notification bit
 * counts only when its `*_NOTIFY` command exists), with the error of a check that failed (a
 * timeout, an error status other than NOT_FOUND, a malformed reply): the command is then left
 * out as well, but a caller refused later can be told why. A removal is thrown.
 *
 * @internal
 */
export async function checkImplemented(
  ph: ProtocolHandle,
  messageId: number,
): Promise<{ implemented: boolean; checkError?: unknown }> {
  try {
    return { implemented: await ph.xfer.messageSupported(messageId) };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return { implemented: false, checkError: e };
  }
}
