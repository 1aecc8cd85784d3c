import { ScmiConfigError } from '@scmi-ts/core';
import { OpteeWireFaults } from '../src/index.js';

describe(OpteeWireFaults, () => {
  it('should fire by channel, command, nth and times, and count by kind', () => {
    const f = new OpteeWireFaults();
    f.add({ id: 'busy', match: { channelId: 1, times: 2 }, action: { kind: 'busy-channel' } });
    f.add({ match: { command: 4, nth: 2 }, action: { kind: 'output-size' } });
    expect(f.select(0, 1)).toEqual([]);
    expect(f.select(1, 4)).toEqual([{ kind: 'busy-channel' }]);
    expect(f.select(1, 4)).toEqual([{ kind: 'busy-channel' }, { kind: 'output-size' }]);
    expect(f.select(1, 4)).toEqual([]);
    expect(f.counts['busy-channel']).toBe(2);
    expect(f.rules.map((r) => r.id)).toEqual(['busy', 'wire-1']);
    expect(f.remove('busy')).toBe(true);
    expect(f.remove('busy')).toBe(false);
    f.set([{ action: { kind: 'tee-result', result: 1 } }]);
    expect(f.rules).toHaveLength(1);
    f.clear();
    expect(f.select(0, 1)).toEqual([]);
  });

  it.each([
    [{ action: { kind: 'nope' } }, 'fault.action.kind'],
    [{ match: { channelId: -1 }, action: { kind: 'busy-channel' } }, 'fault.match.channelId'],
    [{ match: { nth: 0 }, action: { kind: 'busy-channel' } }, 'fault.match.nth'],
    [{ action: { kind: 'output-size', excess: 0 } }, 'fault.action.excess'],
    [{ action: { kind: 'smt-status' } }, 'fault.action.status'],
    [{ action: { kind: 'tee-result', result: 2 ** 32 } }, 'fault.action.result'],
  ])('should refuse %j naming %s', (rule, field) => {
    const f = new OpteeWireFaults();
    expect(() => f.add(rule as never)).toThrow(expect.objectContaining({ field }) as Error);
  });

  it('should refuse a duplicate id, and keep the rules when set() is given a bad one', () => {
    const f = new OpteeWireFaults();
    f.add({ id: 'a', action: { kind: 'busy-channel' } });
    expect(() => f.add({ id: 'a', action: { kind: 'busy-channel' } })).toThrow(/exists/);
    expect(() => f.set([{ action: { kind: 'bad' } as never }])).toThrow(ScmiConfigError);
    expect(f.rules).toHaveLength(1);
  });
});
