import {
  Devres,
  attachReleaseFailure,
  checkName,
  publishThenStart,
  type DevresOptions,
} from './devres.js';
import { DevresError } from './errors.js';
import { REMOVE_REASON } from './teardown-reason.js';

/** Where a device is in its life. */
export type DeviceState = 'unbound' | 'probing' | 'bound' | 'removing';

/**
 * A device that can be probed and removed; each successful or failed probe gets a fresh
 * {@link Devres}. Probe and remove are serialized: a device cannot be probed twice concurrently.
 *
 * @example
 * ```ts
 * const dev = new Device('scmi0');
 * await dev.probe(async (res) => { res.addAction('hello', () => console.log('bye')); });
 * await dev.remove(); // prints "bye"
 * ```
 */
export class Device {
  /** The device name (also the devres name). */
  public readonly name: string;
  readonly #options: DevresOptions;
  #state: DeviceState = 'unbound';
  #devres: Devres | undefined;
  #removal: Promise<void> | undefined;

  /**
   * Creates an unbound device; `options` apply to every devres it gets.
   *
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string (checked here, not at
   * the first probe).
   */
  public constructor(name: string, options: DevresOptions = {}) {
    checkName('new Device', name);
    this.name = name;
    this.#options = options;
  }

  /** Where the device is in its life. */
  public get state(): DeviceState {
    return this.#state;
  }

  /** The devres of the current probe, or `undefined` when unbound. */
  public get devres(): Devres | undefined {
    return this.#devres;
  }

  /**
   * Probes the device: runs `fn` with a fresh devres. If `fn` throws, everything registered so far
   * is torn down (quiesce, then reverse release, reason `probe-failed`) before the original error
   * is rethrown, with teardown failures attached ({@link getReleaseFailure}).
   *
   * A removal whose teardown never ends (a step that never settles) leaves the device `removing`
   * for good: every later probe is refused with `E_PROBE_IN_PROGRESS`.
   *
   * @throws DevresError `E_PROBE_IN_PROGRESS` while probing or removing; `E_ALREADY_BOUND` when bound.
   */
  public async probe<R>(fn: (devres: Devres, device: Device) => R | PromiseLike<R>): Promise<R> {
    if (this.#state === 'probing' || this.#state === 'removing') {
      throw new DevresError('E_PROBE_IN_PROGRESS', `${this.name}: probe while ${this.#state}`);
    }
    if (this.#state === 'bound') {
      throw new DevresError('E_ALREADY_BOUND', `${this.name}: already bound; remove it first`);
    }
    const devres = new Devres(this.name, this.#options);
    this.#state = 'probing';
    this.#devres = devres;
    try {
      const result = await fn(devres, this);
      this.#state = 'bound';
      return result;
    } catch (error) {
      try {
        await devres.releaseAll({ kind: 'probe-failed', error });
      } catch (failure) {
        attachReleaseFailure(error, failure);
      }
      this.#devres = undefined;
      this.#state = 'unbound';
      throw error;
    }
  }

  /**
   * Removes a bound device: tears its devres down (reason `remove`). Concurrent calls share one
   * promise, and so does a call from a teardown step — which must therefore not await it: the
   * teardown waits for the step, the step for the teardown, and neither ever settles. A step that
   * never settles likewise leaves the device `removing` for good (later calls get the same
   * pending promise; {@link Device.probe} is refused with `E_PROBE_IN_PROGRESS`).
   *
   * @throws DevresError `E_NOT_BOUND` when not bound; `E_PROBE_IN_PROGRESS` while probing.
   * @throws DevresReleaseError when teardown steps failed (the device is unbound anyway).
   */
  public remove(): Promise<void> {
    if (this.#removal !== undefined) return this.#removal;
    if (this.#state === 'probing') {
      return Promise.reject(
        new DevresError('E_PROBE_IN_PROGRESS', `${this.name}: remove while probing`),
      );
    }
    const devres = this.#devres;
    if (this.#state !== 'bound' || devres === undefined) {
      return Promise.reject(new DevresError('E_NOT_BOUND', `${this.name}: not bound`));
    }
    this.#state = 'removing';
    const run = async (): Promise<void> => {
      try {
        await devres.releaseAll(REMOVE_REASON);
      } finally {
        this.#devres = undefined;
        this.#state = 'unbound';
        this.#removal = undefined;
      }
    };
    // A teardown step that calls remove() itself gets this same promise.
    return publishThenStart((removal) => {
      this.#removal = removal;
    }, run);
  }
}

/**
 * Probes `device` with `fn` (see {@link Device.probe}).
 *
 * @example
 * ```ts
 * await probe(dev, async (res) => { await res.acquire('chan', open, close); });
 * ```
 */
export function probe<R>(
  device: Device,
  fn: (devres: Devres, device: Device) => R | PromiseLike<R>,
): Promise<R> {
  return device.probe(fn);
}

/**
 * Removes a probed `device` (see {@link Device.remove}).
 *
 * @example
 * ```ts
 * await remove(dev);
 * ```
 */
export function remove(device: Device): Promise<void> {
  return device.remove();
}
