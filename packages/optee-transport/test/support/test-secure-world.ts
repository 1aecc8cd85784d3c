import { TeeOrigin, type SameThreadOpteeWire } from '../../src/index.js';
import {
  OpteeCallState,
  SLOT_CMD,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_STATE,
} from '../../src/wire/optee-msg-arg.js';

/** A call a {@link serveTeeCalls} secure world took from its slot. */
export interface TakenTeeCall {
  /** The slot (the secure-world thread) it runs on. */
  readonly slot: number;
  /** Its OP-TEE message command. */
  readonly cmd: number;
  /** The session id the normal world wrote. */
  readonly session: number;
  /**
   * Returns it: writes `result` (origin TEE) and, when given, the session id to answer with,
   * marks the slot returned and rings the normal world — unless `ring` is false (a secure world
   * that dies before it rings). May be called later than the call was taken (a held return).
   */
  return(result: number, options?: { readonly session?: number; readonly ring?: boolean }): void;
}

/**
 * A secure world of the test's own on a same-thread wire (no EmulatedOptee): each call the normal
 * world posts is taken from its slot (POSTED → RUNNING) and handed to `onCall`, which returns it
 * at once or keeps it to return later — a confused, hostile or dying secure world as the test
 * scripts it.
 *
 * @example
 * ```ts
 * serveTeeCalls(wire, (call) => call.return(TeeResult.SUCCESS));
 * ```
 */
export function serveTeeCalls(
  wire: SameThreadOpteeWire,
  onCall: (call: TakenTeeCall) => void,
): void {
  const end = wire.tee;
  const words = new Int32Array(end.memory);
  const view = new DataView(end.memory);
  const posted = OpteeCallState.POSTED as number;
  end.doorbell.listen(() => {
    for (let slot = 0; slot < end.layout.threads; slot++) {
      const base = end.layout.slotOffset(slot);
      const state = (base + SLOT_STATE) / 4;
      if (Atomics.compareExchange(words, state, posted, OpteeCallState.RUNNING) !== posted) {
        continue;
      }
      onCall({
        slot,
        cmd: view.getUint32(base + SLOT_CMD, true),
        session: view.getUint32(base + SLOT_SESSION, true),
        return: (result, options = {}) => {
          if (options.session !== undefined)
            view.setUint32(base + SLOT_SESSION, options.session, true);
          view.setUint32(base + SLOT_RET, result, true);
          view.setUint32(base + SLOT_RET_ORIGIN, TeeOrigin.TEE, true);
          Atomics.store(words, state, OpteeCallState.RETURNED);
          if (options.ring !== false) end.doorbell.ring();
        },
      });
    }
  });
}
