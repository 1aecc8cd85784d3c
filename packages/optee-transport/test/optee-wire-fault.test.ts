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

  it.each([
    [null, 'fault'],
    ['busy-channel', 'fault'],
    [[{ action: { kind: 'busy-channel' } }], 'fault'],
    [{ match: 'channel 0', action: { kind: 'busy-channel' } }, 'fault.match'],
    [{ match: [0], action: { kind: 'busy-channel' } }, 'fault.match'],
    [{ action: 'busy-channel' }, 'fault.action'],
    [{}, 'fault.action'],
    [{ id: 3, action: { kind: 'busy-channel' } }, 'fault.id'],
    [{ id: '', action: { kind: 'busy-channel' } }, 'fault.id'],
  ])(
    'should refuse %j with an ScmiConfigError naming %s, not a TypeError, adding nothing',
    (rule, field) => {
      const f = new OpteeWireFaults();
      f.add({ id: 'keep', action: { kind: 'busy-channel' } });
      let e: unknown;
      try {
        f.add(rule as never);
      } catch (err) {
        e = err;
      }
      expect(e).not.toBeInstanceOf(TypeError);
      expect(ScmiConfigError.is(e)).toBe(true);
      expect(e).toMatchObject({ code: 'E_CONFIG', field });
      expect(() => {
        f.set([rule as never]);
      }).toThrow(expect.objectContaining({ field }) as Error);
      expect(f.rules.map((r) => r.id)).toEqual(['keep']);
      // A refused match never fires: the kept rule alone does.
      expect(f.select(1, 4)).toEqual([{ kind: 'busy-channel' }]);
    },
  );

  it('should take a null match as none (JSON written by hand), as the platform does', () => {
    const f = new OpteeWireFaults();
    f.add({ match: null as never, action: { kind: 'busy-channel' } });
    expect(f.rules).toEqual([{ id: 'wire-1', action: { kind: 'busy-channel' } }]);
    expect(f.select(3, 4)).toEqual([{ kind: 'busy-channel' }]);
  });

  it('should refuse a rule list that is not an array naming faults', () => {
    const f = new OpteeWireFaults();
    expect(() => {
      f.set(null as never);
    }).toThrow(expect.objectContaining({ field: 'faults' }) as Error);
  });

  it("should give set()'s automatic ids around the ids its list names, wherever they stand", () => {
    const f = new OpteeWireFaults();
    f.set([
      { action: { kind: 'busy-channel' } },
      { id: 'wire-1', action: { kind: 'hang-until-cancel' } },
    ]);
    expect(f.rules.map((r) => r.id)).toEqual(['wire-2', 'wire-1']);
    // A hole of a sparse list is refused as any other bad rule.
    expect(() => {
      f.set(new Array<never>(1));
    }).toThrow(ScmiConfigError);
  });

  it('should check the whole list before set() replaces anything: a duplicate id replaces nothing', () => {
    const f = new OpteeWireFaults();
    f.add({ id: 'keep', action: { kind: 'busy-channel' } });
    let e: unknown;
    try {
      f.set([
        { id: 'a', action: { kind: 'busy-channel' } },
        { id: 'a', action: { kind: 'hang-until-cancel' } },
      ]);
    } catch (err) {
      e = err;
    }
    expect(ScmiConfigError.is(e)).toBe(true);
    expect(e).toMatchObject({ code: 'E_CONFIG', field: 'fault.id' });
    expect(f.rules.map((r) => r.id)).toEqual(['keep']);
    // Nor did the refused list take an automatic id.
    expect(f.add({ action: { kind: 'busy-channel' } })).toBe('wire-1');
    // set() may reuse the ids of the rules it replaces.
    f.set([{ id: 'keep', action: { kind: 'hang-until-cancel' } }]);
    expect(f.rules).toEqual([{ id: 'keep', action: { kind: 'hang-until-cancel' } }]);
  });

  it('should skip an automatic id a rule already has', () => {
    const f = new OpteeWireFaults();
    f.add({ id: 'wire-1', action: { kind: 'busy-channel' } });
    expect(f.add({ action: { kind: 'busy-channel' } })).toBe('wire-2');
  });

  it('should keep a copy of each rule: changing it afterwards, or what rules returns, changes nothing', () => {
    const f = new OpteeWireFaults();
    const match = { channelId: 1, nth: 2 };
    const action = { kind: 'tee-result' as const, result: 0xffff0000 };
    f.add({ match, action });
    match.channelId = 0;
    match.nth = 0;
    action.result = 2 ** 40;
    const listed = f.rules[0] as { match: { channelId: number }; action: { result: number } };
    listed.match.channelId = 5;
    listed.action.result = 7;
    expect(f.rules).toEqual([
      {
        id: 'wire-1',
        match: { channelId: 1, nth: 2 },
        action: { kind: 'tee-result', result: 0xffff0000 },
      },
    ]);
    expect(f.select(0, 1)).toEqual([]);
    expect(f.select(1, 1)).toEqual([]);
    expect(f.select(1, 1)).toEqual([{ kind: 'tee-result', result: 0xffff0000 }]);
  });

  it('should refuse a duplicate id, and keep the rules when set() is given a bad one', () => {
    const f = new OpteeWireFaults();
    f.add({ id: 'a', action: { kind: 'busy-channel' } });
    expect(() => f.add({ id: 'a', action: { kind: 'busy-channel' } })).toThrow(/exists/);
    expect(() => f.set([{ action: { kind: 'bad' } as never }])).toThrow(ScmiConfigError);
    expect(f.rules).toHaveLength(1);
  });
});
