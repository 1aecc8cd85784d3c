import { RevokedError, ScmiError, ScmiStatusError } from '@scmi-ts/core';
import {
  PROTOCOL_DRIVERS,
  RESET_ISSUED,
  POWER_STATE_CHANGED,
  POWER_STATE_ON,
  SystemPowerState,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { createHarness, type Harness } from './support/harness.js';

const DENIED = [0xfd, 0xff, 0xff, 0xff];
const NOT_SUPPORTED = [0xff, 0xff, 0xff, 0xff];
const NOT_FOUND = [0xfc, 0xff, 0xff, 0xff];

/** Records every command the platform handles: [protocol, message, payload words]. */
function spy(h: Harness): [number, number, number[]][] {
  const calls: [number, number, number[]][] = [];
  const handle = h.platform.handle.bind(h.platform);
  jest.spyOn(h.platform, 'handle').mockImplementation((agentId, channelId, request) => {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    const header = view.getUint32(0, true);
    const words: number[] = [];
    for (let at = 4; at + 4 <= request.byteLength; at += 4) words.push(view.getUint32(at, true));
    calls.push([(header >>> 10) & 0xff, header & 0xff, words]);
    return handle(agentId, channelId, request);
  });
  return calls;
}

describe('review: docs vs behaviour', () => {
  let h: Harness | undefined;
  afterEach(() => {
    jest.restoreAllMocks();
    h?.close();
    h = undefined;
  });

  it('A: after removal not every call rejects with RevokedError', async () => {
    h = createHarness({ drivers: PROTOCOL_DRIVERS });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const reset = agent.protocol(resetProtocolDriver);
    const power = agent.protocol(powerProtocolDriver);
    await agent.remove();
    // control: a good call does reject with RevokedError
    await expect(reset.reset(0)).rejects.toBeInstanceOf(RevokedError);
    // synchronous helpers answer as if live
    expect(perf.estimatePower(0, 1)).toEqual({ frequencyHz: 400_000_000, powerCost: 100 });
    expect(perf.transitionLatencyUs(0)).toBe(150);
    expect(perf.domains.info(0).name).toBe('cpu-cluster0');
    // a caller error wins over the removal
    const e1 = await reset.reset(99).catch((e: unknown) => e);
    expect(RevokedError.is(e1)).toBe(false);
    expect((e1 as ScmiError).code).toBe('E_ARGUMENT');
    const e2 = await power.setState(0, 1.5).catch((e: unknown) => e);
    expect((e2 as ScmiError).code).toBe('E_ARGUMENT');
  });

  it('B: a failed SENSOR_DESCRIPTION_GET fails the whole Sensor driver (not domains.failures)', async () => {
    h = createHarness({
      drivers: [sensorProtocolDriver, resetProtocolDriver],
      platformFaults: [
        { match: { protocolId: 0x15, messageId: 0x3, times: 1 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED } },
        { match: { protocolId: 0x16, messageId: 0x3, times: 1 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED } },
      ],
    });
    const agent = await h.create();
    // Reset: as the README says, the domain is kept as a failure
    expect(agent.protocol(resetProtocolDriver).domains.failures.has(0)).toBe(true);
    // Sensor: the driver fails outright
    expect(ScmiStatusError.is(agent.protocolErrors.get(0x15))).toBe(true);
    expect(() => agent.protocol(sensorProtocolDriver)).toThrow(expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error);
    await agent.remove();
  });

  it('C: Reset and Power never check that *_NOTIFY is implemented: subscribe sends it', async () => {
    h = createHarness({
      drivers: [resetProtocolDriver, powerProtocolDriver],
      platformFaults: [
        // the platform says RESET_NOTIFY / POWER_STATE_NOTIFY are not implemented
        { match: { protocolId: 0x16, messageId: 0x2 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND } },
        { match: { protocolId: 0x11, messageId: 0x2 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND } },
        { match: { protocolId: 0x16, messageId: 0x5 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_SUPPORTED } },
        { match: { protocolId: 0x11, messageId: 0x6 }, action: { kind: 'corrupt-bytes', offset: 4, bytes: NOT_SUPPORTED } },
      ],
    });
    const calls = spy(h);
    const agent = await h.create();
    // init never asked PROTOCOL_MESSAGE_ATTRIBUTES of either protocol
    expect(calls.filter(([p, m]) => (p === 0x16 || p === 0x11) && m === 0x2)).toEqual([]);
    const before = calls.length;
    const e = await agent.events
      .subscribe({ protocolId: 0x16, eventId: RESET_ISSUED, source: 0 }, () => undefined)
      .catch((x: unknown) => x);
    // sent, and the platform's status comes back — not E_NOT_SUPPORTED with nothing sent
    expect(ScmiStatusError.is(e)).toBe(true);
    expect(calls.slice(before).map(([p, m]) => [p, m])).toEqual([[0x16, 0x5]]);
    const e2 = await agent.events
      .subscribe({ protocolId: 0x11, eventId: POWER_STATE_CHANGED, source: 0 }, () => undefined)
      .catch((x: unknown) => x);
    expect(ScmiStatusError.is(e2)).toBe(true);
    await agent.remove();
  });

  it('D: Power async / System power graceful: a truthy non-boolean is silently false, not E_ARGUMENT', async () => {
    h = createHarness({ drivers: PROTOCOL_DRIVERS });
    const calls = spy(h);
    const agent = await h.create();
    const power = agent.protocol(powerProtocolDriver);
    const system = agent.protocol(systemPowerProtocolDriver);
    const clock = agent.protocol(clockProtocolDriver);
    const reset = agent.protocol(resetProtocolDriver);
    // Clock and Reset refuse it, as the README says
    await expect(clock.setRate(1, 24_000_000n, { async: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    await expect(reset.reset(1, { async: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    // Power: sent synchronous (flags 0), resolves
    let before = calls.length;
    await power.setState(2, POWER_STATE_ON, { async: 1 as unknown as boolean });
    expect(calls.slice(before)).toEqual([[0x11, 0x4, [0, 2, 0]]]);
    // System power: graceful: 1 → forceful (flags 0)
    before = calls.length;
    await system.setState(SystemPowerState.WARM_RESET, { graceful: 1 as unknown as boolean }).catch(() => undefined);
    expect(calls.slice(before)).toEqual([[0x12, 0x3, [0, 2]]]);
    await agent.remove();
  });

  it('E: diagnostics.malformedReplies keys are core short names (perf/system), not the driver names', async () => {
    h = createHarness({
      drivers: PROTOCOL_DRIVERS,
      platformFaults: [
        { match: { protocolId: 0x13, messageId: 0x8 }, action: { kind: 'truncate', length: 8 } },
        { match: { protocolId: 0x12, messageId: 0x4 }, action: { kind: 'truncate', length: 8 } },
      ],
    });
    const agent = await h.create();
    await expect(agent.protocol(performanceProtocolDriver).getLevel(0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    await expect(agent.protocol(systemPowerProtocolDriver).getState()).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(performanceProtocolDriver.name).toBe('performance');
    expect(systemPowerProtocolDriver.name).toBe('system-power');
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1, system: 1 });
    await agent.remove();
  });
});
