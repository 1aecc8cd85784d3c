/**
 * The demo's platform thread: the emulated SCMI firmware (`@scmi-ts/platform`) and the
 * platform-side backend of one transport (`workerData.transport`) — the mailbox transport's SMT
 * responders, the virtio-scmi devices, or the emulated OP-TEE with its SCMI PTA — served to the
 * main thread with core's worker host. Started from its TypeScript source in tests and from
 * `dist/` by `pnpm demo` (see `resolveWorkerEntry`). Imported on the main thread (a test of
 * {@link replaceFaultRules}), it serves nothing.
 */
import {
  RealClock,
  ScmiConfigError,
  serveWorker,
  type Clock,
  type WorkerHandlers,
} from '@scmi-ts/core';
import { createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';
import { createEmulatedOpteeHost } from '@scmi-ts/optee-transport';
import {
  FaultInjector,
  PlatformError,
  ScmiPlatform,
  createDefaultPlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import { serveVirtioDevices } from '@scmi-ts/virtio-transport';
import { isMainThread, workerData } from 'node:worker_threads';

/** What the main thread gives the platform worker. */
export interface PlatformWorkerData {
  /** Which transport's backend to serve. */
  readonly transport: 'mailbox' | 'virtio' | 'optee';
  /** The agent id the backend connects (the emulated OP-TEE serves one agent). */
  readonly agentId: number;
  /** How long the emulated OP-TEE's SCMI server waits for a platform response, ms. */
  readonly platformTimeoutMs?: number;
}

interface Backend {
  readonly handlers: WorkerHandlers;
  close(): void;
}

/**
 * Replaces every fault rule of `faults` with `rules`, in order (ids as `faults.add` gives them):
 * the worker's `setFaults`. All or nothing: the whole list is checked first, and when one rule is
 * refused the rules stay as they were, their counts (`nth`, `times`) included — a list half
 * installed would run faults nobody asked for. One refusal comes only while installing (the
 * platform's injector has no all-or-nothing `set`): a rule without an id given the automatic id
 * (`rule-<n>`) a later rule of the list names itself; the rules before are then put back, with
 * their ids, their counts started again. An empty list removes every rule. `rules` is not
 * changed, nor kept (the injector copies each rule).
 *
 * @param clock - A clock for the injector the rules are tried on (it arms no timer).
 * @throws ScmiConfigError `rules` when `rules` is not an array, `rules[i]` at a hole of it.
 * @throws PlatformError `E_FAULT_RULE` when a rule is invalid (see `FaultInjector.add`) or takes
 *   the id of an earlier rule of the list, the message starting with its index
 *   (`rules[1]: invalid fault rule: …`).
 * @example
 * ```ts
 * const drop: FaultRule = { match: { messageId: 0 }, action: { kind: 'drop' } };
 * replaceFaultRules(platform.faults, [drop], clock);
 * replaceFaultRules(platform.faults, [], clock); // no rule left
 * ```
 */
export function replaceFaultRules(
  faults: FaultInjector,
  rules: readonly FaultRule[],
  clock: Clock,
): void {
  const value: unknown = rules;
  if (!Array.isArray(value)) {
    throw new ScmiConfigError('rules', `must be an array of fault rules, got ${typeof value}`);
  }
  const list: readonly unknown[] = value;
  // Each rule alone on a scratch injector (added, then removed: automatic ids never collide there),
  // the ids the rules give themselves compared here. An index loop: a hole is refused, not skipped.
  const trial = new FaultInjector(clock);
  const ids = new Map<unknown, number>();
  for (let i = 0; i < list.length; i++) {
    if (!Object.hasOwn(list, i)) {
      throw new ScmiConfigError(`rules[${i}]`, 'must not be a hole (the list is sparse)');
    }
    const rule = list[i] as FaultRule;
    try {
      trial.remove(trial.add(rule));
    } catch (e) {
      if (!PlatformError.is(e)) throw e;
      throw new PlatformError(e.code, `rules[${i}]: ${e.message}`, { cause: e });
    }
    const id = rule.id;
    if (id === undefined) continue;
    const first = ids.get(id);
    if (first !== undefined) {
      throw new PlatformError(
        'E_FAULT_RULE',
        `rules[${i}]: fault rule id ${id} is already in use (rules[${first}])`,
      );
    }
    ids.set(id, i);
  }
  const before = faults.rules;
  faults.clear();
  try {
    for (const rule of list) faults.add(rule as FaultRule);
  } catch (e) {
    // Only left: an automatic id the injector gave (`rule-<n>`) that a later rule of the list
    // gives itself. The rules before go back, with their ids (their counts start again).
    faults.clear();
    for (const rule of before) faults.add(rule);
    throw e;
  }
}

/** Serves the platform and the backend `data` names; the worker's entry. */
function servePlatformWorker(data: PlatformWorkerData): void {
  const clock = new RealClock();
  // OP-TEE's SCMI server answers NOT_SUPPORTED to a message it does not know (scmi_msg.c);
  // SCP-firmware, behind the mailbox and virtio transports, answers NOT_FOUND.
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), {
    clock,
    ...(data.transport === 'optee' ? { behaviour: { unknownMessage: 'not-supported' } } : {}),
  });

  const openBackend = (): Backend => {
    switch (data.transport) {
      case 'mailbox': {
        const smt = createSmtWorkerHandlers(platform, clock);
        return { handlers: smt.handlers, close: () => smt.closeAll() };
      }
      case 'virtio': {
        const devices = serveVirtioDevices(platform, clock);
        return { handlers: devices.handlers, close: () => devices.closeAll() };
      }
      case 'optee': {
        const host = createEmulatedOpteeHost({
          platform,
          agentId: data.agentId,
          clock,
          ...(data.platformTimeoutMs === undefined
            ? {}
            : { platformTimeoutMs: data.platformTimeoutMs }),
        });
        return { handlers: host.handlers, close: () => host.close() };
      }
    }
  };

  const backend = openBackend();

  serveWorker(
    {
      ...backend.handlers,
      setFaults: (rules: readonly FaultRule[]) => {
        replaceFaultRules(platform.faults, rules, clock);
      },
      // Timers other than accepted asynchronous operations' (those complete even after their
      // agent is gone): a late reply still to send, or one nothing can use any more.
      armedTimers: () => platform.armedTimers - platform.pendingOperations,
      platformCounters: () => ({ ...platform.counters }),
    },
    {
      onStop: () => {
        backend.close();
        platform.close();
      },
    },
  );
}

if (!isMainThread) servePlatformWorker(workerData as PlatformWorkerData);
