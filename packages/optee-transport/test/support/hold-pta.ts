import {
  TeeError,
  TeeParamType,
  TeeResult,
  teeValue,
  type EmulatedOptee,
  type TeeContext,
  type TeeSession,
} from '../../src/index.js';
import type { PseudoTa, PtaInvocation } from '../../src/emulated/pseudo-ta.js';

/** The UUID of the {@link HoldPta}: another TEE client's trusted application. */
export const HOLD_PTA_UUID = '5f3b1c2a-7d4e-4b8f-9a6c-0e1d2f3a4b5c';

/** Commands of the {@link HoldPta}. */
export enum HoldPtaCommand {
  /** Held until released (or cancelled): the OP-TEE thread stays taken meanwhile. */
  HOLD = 0,
  /** Answered at once. */
  ECHO = 1,
}

/**
 * A pseudo TA of another TEE client, for the system-session tests: HOLD keeps its OP-TEE thread
 * until {@link HoldPta.release} (or a cancel request: then `TEE_ERROR_CANCEL`); ECHO returns at
 * once. It records the order in which calls reached it (the secure world), by label.
 */
export class HoldPta implements PseudoTa {
  public readonly uuid = HOLD_PTA_UUID;
  /** HOLD invocations not yet released, oldest first. */
  public readonly held: PtaInvocation[] = [];
  /** The label (the invocation's `a` value) of every call that reached the TA, in order. */
  public readonly arrivals: number[] = [];

  /** Accepts every login. */
  public openSession(): number {
    return TeeResult.SUCCESS;
  }

  /** Holds HOLD, answers ECHO. */
  public invoke(call: PtaInvocation): void {
    this.arrivals.push(call.params[0]?.a ?? -1);
    if (call.command !== (HoldPtaCommand.HOLD as number)) {
      call.complete(TeeResult.SUCCESS);
      return;
    }
    this.held.push(call);
    call.onCancel = () => {
      this.held.splice(this.held.indexOf(call), 1);
      call.complete(TeeResult.CANCEL);
    };
  }

  /** Returns the held invocations (all, or the one labelled `label`). */
  public release(label?: number): void {
    const going = this.held.filter((c) => label === undefined || c.params[0]?.a === label);
    for (const c of going) {
      this.held.splice(this.held.indexOf(c), 1);
      c.complete(TeeResult.SUCCESS);
    }
  }
}

/** Adds a {@link HoldPta} to `optee`. */
export function addHoldPta(optee: EmulatedOptee): HoldPta {
  const pta = new HoldPta();
  optee.addPseudoTa(pta);
  return pta;
}

/** Opens a session to the {@link HoldPta}. */
export function openHoldSession(context: TeeContext): Promise<TeeSession> {
  return context.openSession(HOLD_PTA_UUID);
}

/**
 * Invokes `command` labelled `label` (the TA records it) and settles with the TEE result (never
 * rejects), so that a test can look at who got a thread in which order.
 */
export function holdCall(
  session: TeeSession,
  command: HoldPtaCommand,
  label: number,
  cancelId = 0,
): Promise<number> {
  return session.invoke(command, [teeValue(TeeParamType.VALUE_INPUT, label)], { cancelId }).then(
    () => TeeResult.SUCCESS as number,
    (e: unknown) => (TeeError.is(e) ? e.result : -1),
  );
}
