/**
 * One side of a doorbell: ring it to signal the other side; listen to be called when the other
 * side rings. Like an interrupt line, rings may coalesce: a listener must look at the shared state
 * for all the work that is pending, not assume one call per ring.
 *
 * Implementations: {@link createSameThreadDoorbellPair} (rings delivered as tasks on the injected
 * clock, so tests choose interleavings) and {@link SharedDoorbell} (across threads, over a
 * `SharedArrayBuffer` with `Atomics.notify` / `Atomics.waitAsync`).
 *
 * @example
 * ```ts
 * const [agent, platform] = createSameThreadDoorbellPair(clock);
 * platform.listen(() => processRequest());
 * agent.ring();
 * ```
 */
export interface Doorbell {
  /**
   * Signals the other side. Once either side is closed it delivers nothing: a no-op when this
   * side is closed; counted in the other side's {@link Doorbell.ignored} when that one is closed.
   */
  ring(): void;
  /**
   * Starts calling `onRing` for each ring of the other side (rings may coalesce), never
   * synchronously inside `ring()`. A ring made before listening started is latched and delivered
   * once. Only one listener per side.
   *
   * @throws ScmiTransportError `E_DOORBELL_LISTENING` when a listener is already set,
   * `E_DOORBELL_CLOSED` when the doorbell is closed.
   */
  listen(onRing: () => void): void;
  /**
   * Stops listening and wakes a pending wait so that it returns; later rings of the other side are
   * ignored and counted in {@link Doorbell.ignored}. Releases whatever kept the process alive.
   * Idempotent.
   */
  close(): void;
  /** True once {@link Doorbell.close} was called. */
  readonly closed: boolean;
  /** Rings from the other side that arrived after close and were ignored. */
  readonly ignored: number;
}
