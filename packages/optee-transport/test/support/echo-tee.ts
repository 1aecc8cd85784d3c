/**
 * A secure world of the tests' own on the secure end of an OP-TEE wire (no EmulatedOptee, no
 * SCMI PTA): it opens and closes any session, registers and unregisters any shared memory, and
 * answers every invocation by transforming each of its four parameter slots in a way a test can
 * recognise — so what the normal world's driver writes into a slot, and reads back from it, can be
 * checked slot by slot (the SCMI PTA never uses parameter 3).
 *
 * Per slot `i` of an invocation (registered-memory sizes are what the driver reads back):
 * - VALUE_INPUT: left as it is;
 * - VALUE_OUTPUT: a = `0xe0 + i`, b = the command id;
 * - VALUE_INOUT: a = a + 1, b = ~b;
 * - RMEM_INPUT: left as it is;
 * - RMEM_OUTPUT: every byte set to `0xa0 + i`, size reported = size + 8 (it "needs" more);
 * - RMEM_INOUT: the bytes reversed in place, size reported = size − 1.
 *
 * Used in the test's thread (a same-thread wire) and in a worker (`echo-tee-worker.ts`).
 */
import {
  OpteeCallState,
  OpteeMsgAttr,
  OpteeMsgCmd,
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_MAX_PARAMS,
  SLOT_NUM_PARAMS,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_STATE,
  paramOffset,
} from '../../src/wire/optee-msg-arg.js';
import { TeeOrigin, TeeResult, type OpteeWireEnd } from '../../src/index.js';

/** One parameter slot as the echo TEE found it (before it transformed it). */
export interface EchoSlot {
  readonly attr: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** Registered memory: the bytes the slot referenced when the call arrived. */
  readonly bytes?: number[];
}

/** One invocation as the echo TEE received it. */
export interface EchoCall {
  readonly func: number;
  readonly session: number;
  readonly numParams: number;
  /** All four slots, whatever `numParams` says. */
  readonly slots: readonly EchoSlot[];
}

/** The echo TEE on one wire. */
export interface EchoTee {
  /** The invocations it received, in order. */
  readonly calls: readonly EchoCall[];
  /** Stops answering. */
  close(): void;
}

/** Starts the echo TEE on `end` (the secure world's end of a wire). */
export function attachEchoTee(end: OpteeWireEnd): EchoTee {
  const words = new Int32Array(end.memory);
  const view = new DataView(end.memory);
  const bytes = new Uint8Array(end.memory);
  const shm = new Map<number, { offset: number; size: number }>();
  const calls: EchoCall[] = [];
  let nextSession = 1;
  const u32 = (at: number): number => view.getUint32(at, true);
  const set = (at: number, v: number): void => view.setUint32(at, v >>> 0, true);

  function invoke(base: number): number {
    const func = u32(base + SLOT_FUNC);
    const slots: EchoSlot[] = [];
    for (let i = 0; i < SLOT_MAX_PARAMS; i++) {
      const at = base + paramOffset(i);
      const [attr, a, b, c] = [u32(at), u32(at + 4), u32(at + 8), u32(at + 12)];
      const isMem =
        attr === OpteeMsgAttr.RMEM_INPUT ||
        attr === OpteeMsgAttr.RMEM_OUTPUT ||
        attr === OpteeMsgAttr.RMEM_INOUT;
      const reg = isMem ? shm.get(c) : undefined;
      if (isMem && (reg === undefined || a + b > reg.size)) return TeeResult.BAD_PARAMETERS;
      const window =
        reg === undefined ? undefined : bytes.subarray(reg.offset + a, reg.offset + a + b);
      slots.push(window === undefined ? { attr, a, b, c } : { attr, a, b, c, bytes: [...window] });
      switch (attr) {
        case OpteeMsgAttr.VALUE_OUTPUT:
          set(at + 4, 0xe0 + i);
          set(at + 8, func);
          break;
        case OpteeMsgAttr.VALUE_INOUT:
          set(at + 4, a + 1);
          set(at + 8, ~b);
          break;
        case OpteeMsgAttr.RMEM_OUTPUT:
          window?.fill(0xa0 + i);
          set(at + 8, b + 8);
          break;
        case OpteeMsgAttr.RMEM_INOUT:
          window?.reverse();
          set(at + 8, b - 1);
          break;
        default:
          break;
      }
    }
    calls.push({
      func,
      session: u32(base + SLOT_SESSION),
      numParams: u32(base + SLOT_NUM_PARAMS),
      slots,
    });
    return TeeResult.SUCCESS;
  }

  function answer(base: number): number {
    const p0 = base + paramOffset(0);
    switch (u32(base + SLOT_CMD)) {
      case OpteeMsgCmd.OPEN_SESSION:
        set(base + SLOT_SESSION, nextSession++);
        return TeeResult.SUCCESS;
      case OpteeMsgCmd.INVOKE_COMMAND:
        return invoke(base);
      case OpteeMsgCmd.REGISTER_SHM:
        shm.set(u32(p0 + 12), { offset: u32(p0 + 4), size: u32(p0 + 8) });
        return TeeResult.SUCCESS;
      case OpteeMsgCmd.UNREGISTER_SHM:
        shm.delete(u32(p0 + 12));
        return TeeResult.SUCCESS;
      default: // close session, cancel
        return TeeResult.SUCCESS;
    }
  }

  end.doorbell.listen(() => {
    for (let slot = 0; slot < end.layout.threads; slot++) {
      const base = end.layout.slotOffset(slot);
      const state = (base + SLOT_STATE) / 4;
      if (
        Atomics.compareExchange(words, state, OpteeCallState.POSTED, OpteeCallState.RUNNING) !==
        (OpteeCallState.POSTED as number)
      ) {
        continue;
      }
      set(base + SLOT_RET, answer(base));
      set(base + SLOT_RET_ORIGIN, TeeOrigin.TRUSTED_APP);
      Atomics.store(words, state, OpteeCallState.RETURNED);
      end.doorbell.ring();
    }
  });
  return {
    calls,
    close: () => {
      end.doorbell.close();
    },
  };
}
