import { join } from 'node:path';
import { ScmiConfigError, VirtualClock, resolveWorkerEntry, startWorker } from '@scmi-ts/core';
import {
  PlatformError,
  ScmiPlatform,
  createDefaultPlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import { replaceFaultRules } from '../src/platform-worker.js';

/** What `fn` threw (undefined when it returned). */
function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe(replaceFaultRules, () => {
  const clock = new VirtualClock();
  let platform: ScmiPlatform;
  const old: FaultRule = { id: 'old', match: { protocolId: 0x10 }, action: { kind: 'drop' } };

  beforeEach(() => {
    platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    replaceFaultRules(platform.faults, [old], clock);
  });
  afterEach(() => {
    platform.close();
  });

  it('should replace every rule, in order, and remove them all with an empty list', () => {
    replaceFaultRules(
      platform.faults,
      [{ action: { kind: 'drop' } }, { id: 'b', action: { kind: 'delay', ms: 5 } }],
      clock,
    );
    expect(platform.faults.rules.map((r) => [r.id, r.action.kind])).toEqual([
      ['rule-1', 'drop'],
      ['b', 'delay'],
    ]);
    replaceFaultRules(platform.faults, [], clock);
    expect(platform.faults.rules).toEqual([]);
  });

  it.each<[string, unknown, string, string]>([
    [
      'an invalid rule after a valid one',
      [{ id: 'new', action: { kind: 'drop' } }, { action: { kind: 'nope' } }],
      'E_FAULT_RULE',
      'rules[1]: invalid fault rule',
    ],
    [
      'a rule that is not an object',
      [{ action: { kind: 'drop' } }, null],
      'E_FAULT_RULE',
      'rules[1]: invalid fault rule',
    ],
    [
      'two rules with one id',
      [
        { id: 'x', action: { kind: 'drop' } },
        { id: 'x', action: { kind: 'drop' } },
      ],
      'E_FAULT_RULE',
      'rules[1]: fault rule id x is already in use (rules[0])',
    ],
    ['a list that is not an array', { 0: { action: { kind: 'drop' } } }, 'E_CONFIG', 'rules:'],
    // eslint-disable-next-line no-sparse-arrays
    ['a list with a hole', [{ action: { kind: 'drop' } }, , {}], 'E_CONFIG', 'rules[1]:'],
  ])('should refuse %s and keep the rules as they were', (_, rules, code, message) => {
    const before = platform.faults.rules;
    const error = thrown(() => {
      replaceFaultRules(platform.faults, rules as FaultRule[], clock);
    });
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(message);
    if (code === 'E_CONFIG') expect(ScmiConfigError.is(error)).toBe(true);
    else expect(PlatformError.is(error)).toBe(true);
    expect(platform.faults.rules).toEqual(before);
    expect(platform.faults.rules.map((r) => r.id)).toEqual(['old']);
  });

  it('should keep the rules when an automatic id meets a later rule of the list', () => {
    // The injector's next automatic id is rule-2: the first rule takes it, the second wants it.
    platform.faults.remove(platform.faults.add({ action: { kind: 'drop' } }));
    const error = thrown(() => {
      replaceFaultRules(
        platform.faults,
        [{ action: { kind: 'drop' } }, { id: 'rule-2', action: { kind: 'drop' } }],
        clock,
      );
    });
    expect(PlatformError.is(error)).toBe(true);
    expect(platform.faults.rules).toEqual([{ ...old, id: 'old' }]);
  });

  it('should not change the list it is given', () => {
    const rules = Object.freeze([Object.freeze({ action: Object.freeze({ kind: 'drop' }) })]);
    replaceFaultRules(platform.faults, rules, clock);
    expect(platform.faults.rules).toHaveLength(1);
  });
});

describe('the platform worker', () => {
  it('should refuse a setFaults list with an invalid rule and keep serving', async () => {
    const host = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, '../src'), 'platform-worker'),
      data: { transport: 'mailbox', agentId: 1 },
      name: 'platform-worker-test',
    });
    try {
      await host.call('setFaults', [{ action: { kind: 'drop' } }]);
      await expect(
        host.call('setFaults', [{ action: { kind: 'drop' } }, { action: { kind: 'nope' } }]),
      ).rejects.toThrow(/rules\[1\]: invalid fault rule/);
      await expect(host.call('armedTimers')).resolves.toBe(0);
    } finally {
      await host.stop();
    }
  });
});
