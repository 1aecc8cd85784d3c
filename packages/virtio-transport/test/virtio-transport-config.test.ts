import { ScmiConfigError, SharedDoorbell, VirtualClock } from '@scmi-ts/core';
import {
  VirtioScmiWire,
  createVirtioTransport,
  validateVirtioTransportConfig,
} from '@scmi-ts/virtio-transport';

describe(validateVirtioTransportConfig, () => {
  const wire = VirtioScmiWire.sameThread(new VirtualClock(), { cmdqSize: 64, eventqSize: 16 });

  it('should fill in the defaults from the wire', () => {
    expect(validateVirtioTransportConfig({ wire }, 'transportConfig')).toEqual({
      wire,
      cmdqSize: 64,
      eventqSize: 16,
      features: { p2a: true, eventIdx: true, indirectDesc: false },
      handshakeTimeoutMs: 1000,
      resetTimeoutMs: 1000,
      slotWaitMs: 60_000,
      pollAfterDrain: false,
      pollWindowUs: SharedDoorbell.defaultPollWindowUs(),
    });
    const shared = VirtioScmiWire.shared({ cmdqSize: 4, eventqSize: 1 });
    expect(validateVirtioTransportConfig({ wire: shared }, 'c').pollAfterDrain).toBe(false);
  });

  it('should keep valid overrides', () => {
    const c = validateVirtioTransportConfig(
      {
        wire,
        cmdqSize: 8,
        eventqSize: 1,
        features: { p2a: false, eventIdx: false, indirectDesc: true },
        slotWaitMs: 5,
        pollAfterDrain: true,
      },
      'transportConfig',
    );
    expect([c.cmdqSize, c.eventqSize, c.features, c.slotWaitMs, c.pollAfterDrain]).toEqual([
      8,
      1,
      { p2a: false, eventIdx: false, indirectDesc: true },
      5,
      true,
    ]);
  });

  it('should accept every documented option, and undefined for each optional one', () => {
    const every = {
      wire,
      cmdqSize: 2,
      eventqSize: 1,
      features: { p2a: true, eventIdx: true, indirectDesc: false },
      handshakeTimeoutMs: 1,
      resetTimeoutMs: 1,
      slotWaitMs: 1,
      pollAfterDrain: false,
      pollWindowUs: 0,
    };
    expect(validateVirtioTransportConfig(every, 'transportConfig')).toEqual(every);
    const undefinedEach = {
      wire,
      cmdqSize: undefined,
      eventqSize: undefined,
      features: { p2a: undefined, eventIdx: undefined, indirectDesc: undefined },
      handshakeTimeoutMs: undefined,
      resetTimeoutMs: undefined,
      slotWaitMs: undefined,
      pollAfterDrain: undefined,
      pollWindowUs: undefined,
    };
    expect(validateVirtioTransportConfig(undefinedEach, 'transportConfig')).toEqual(
      validateVirtioTransportConfig({ wire }, 'transportConfig'),
    );
    // A resolved configuration is a valid section too.
    const resolved = validateVirtioTransportConfig({ wire, cmdqSize: 8 }, 'transportConfig');
    expect(validateVirtioTransportConfig(resolved, 'transportConfig')).toEqual(resolved);
  });

  it('should name the unknown option and list the known ones', () => {
    expect(() => validateVirtioTransportConfig({ wire, cmdqsize: 16 }, 'transportConfig')).toThrow(
      /transportConfig\.cmdqsize.*unknown option \(expected one of wire, cmdqSize, eventqSize, features,/,
    );
    expect(() =>
      validateVirtioTransportConfig({ wire, features: { eventidx: false } }, 'transportConfig'),
    ).toThrow(/unknown option \(expected one of p2a, eventIdx, indirectDesc\)/);
  });

  it.each<[unknown, string]>([
    [undefined, 'transportConfig'],
    [{}, 'transportConfig.wire'],
    [{ wire: {} }, 'transportConfig.wire'],
    [{ wire, cmdqSize: 128 }, 'transportConfig.cmdqSize'],
    [{ wire, cmdqSize: 1 }, 'transportConfig.cmdqSize'],
    [{ wire, cmdqSize: 12 }, 'transportConfig.cmdqSize'],
    [{ wire, eventqSize: 32 }, 'transportConfig.eventqSize'],
    [{ wire, features: [] }, 'transportConfig.features'],
    [{ wire, features: { p2a: 'yes' } }, 'transportConfig.features.p2a'],
    [{ wire, handshakeTimeoutMs: 0 }, 'transportConfig.handshakeTimeoutMs'],
    [{ wire, resetTimeoutMs: Infinity }, 'transportConfig.resetTimeoutMs'],
    [{ wire, slotWaitMs: '1' }, 'transportConfig.slotWaitMs'],
    [{ wire, pollAfterDrain: 1 }, 'transportConfig.pollAfterDrain'],
    [{ wire, pollWindowUs: -1 }, 'transportConfig.pollWindowUs'],
    [{ wire, pollWindowUs: Number.NaN }, 'transportConfig.pollWindowUs'],
    [{ wire, pollWindowUs: 1_000_001 }, 'transportConfig.pollWindowUs'],
    [{ wire, pollWindowUs: '0' }, 'transportConfig.pollWindowUs'],
    // A misspelt or unknown option, at either level, is refused rather than left at its default.
    [{ wire, cmdqsize: 16 }, 'transportConfig.cmdqsize'],
    [{ wire, pollWindowUS: 0 }, 'transportConfig.pollWindowUS'],
    [{ wire, features: { eventidx: false } }, 'transportConfig.features.eventidx'],
    [{ wire, features: { p2a: true, indirect: true } }, 'transportConfig.features.indirect'],
    // Only an absent `features` means the defaults.
    [{ wire, features: null }, 'transportConfig.features'],
    [{ wire, cmdqSize: null }, 'transportConfig.cmdqSize'],
    [{ wire, slotWaitMs: null }, 'transportConfig.slotWaitMs'],
    [{ wire, pollWindowUs: null }, 'transportConfig.pollWindowUs'],
    [{ wire, features: { eventIdx: null } }, 'transportConfig.features.eventIdx'],
  ])('should reject %p naming %s', (section, field) => {
    expect(() => validateVirtioTransportConfig(section, 'transportConfig')).toThrow(
      expect.objectContaining({ field }) as ScmiConfigError,
    );
  });
});

describe(createVirtioTransport, () => {
  it('should describe the virtio transport', () => {
    expect(createVirtioTransport().descriptor).toEqual({
      name: 'virtio',
      maxMsg: 1023,
      maxMsgSize: 128,
      rxTimeoutMs: 60_000,
      p2a: true,
      completion: 'both',
    });
    expect(createVirtioTransport({ maxMsg: 512, rxTimeoutMs: 5 }).descriptor.maxMsg).toBe(512);
  });

  describe('.maxMsgFor', () => {
    const wire = VirtioScmiWire.sameThread(new VirtualClock(), { cmdqSize: 128, eventqSize: 4 });
    const big = VirtioScmiWire.sameThread(new VirtualClock(), { cmdqSize: 1024, eventqSize: 4 });
    it.each<[string, number | undefined, number | undefined, number]>([
      ["the wire's cmdq by default", undefined, undefined, 64],
      ['a smaller cmdq the agent chose', 16, undefined, 8],
      ['the smallest cmdq', 2, undefined, 1],
      ['a 1024-entry cmdq, with the default descriptor', 1024, undefined, 512],
      ["the descriptor's maxMsg below what the cmdq carries", 1024, 128, 128],
    ])('should size the pool from %s', (_, cmdqSize, maxMsg, pool) => {
      const t = createVirtioTransport(maxMsg === undefined ? {} : { maxMsg });
      const config = t.validateConfig?.(
        { wire: cmdqSize === undefined ? wire : big, cmdqSize },
        'transportConfig',
      );
      expect(t.maxMsgFor?.(config)).toBe(pool);
    });
  });

  it.each([{ maxMsg: 0 }, { maxMsg: 1024 }, { rxTimeoutMs: -1 }])('should reject %p', (options) => {
    expect(() => createVirtioTransport(options)).toThrow(ScmiConfigError);
  });

  it('should reject a wire with smaller messages than the descriptor, and channel sections', () => {
    const t = createVirtioTransport();
    const small = VirtioScmiWire.sameThread(new VirtualClock(), { maxMsgSize: 64 });
    expect(() => t.validateConfig?.({ wire: small }, 'transportConfig')).toThrow(
      expect.objectContaining({ field: 'transportConfig.wire' }) as ScmiConfigError,
    );
    expect(t.validateChannelConfig?.(undefined, 'a2p[0].transport')).toBeUndefined();
    expect(() => t.validateChannelConfig?.({}, 'a2p[0].transport')).toThrow(ScmiConfigError);
  });
});
