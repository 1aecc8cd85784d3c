import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import { PerformanceMessageId, PlatformError } from '@scmi-ts/platform';
import { Harness } from './support/harness';

const PERF = ScmiProtocolId.PERF;

describe('ScmiPlatform.agentCounters', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  it("should count each agent's requests and the statuses it was answered, apart", () => {
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0], 1).status).toBe(ScmiStatus.SUCCESS);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [1], 1).status).toBe(ScmiStatus.SUCCESS);
    // Agent 2 (PSCI) may use performance domain 0 only.
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [1], 2).status).toBe(ScmiStatus.DENIED);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [9], 2).status).toBe(ScmiStatus.NOT_FOUND);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0], 2).status).toBe(ScmiStatus.SUCCESS);
    const one = h.platform.agentCounters(1);
    const two = h.platform.agentCounters(2);
    expect(one).toMatchObject({ requests: 2, responses: 2, statuses: { SUCCESS: 2 } });
    expect(two).toMatchObject({
      requests: 3,
      responses: 3,
      statuses: { SUCCESS: 1, NOT_FOUND: 1, DENIED: 1 },
    });
    // Together, the platform's.
    expect(one.requests + two.requests).toBe(h.platform.counters.requests);
  });

  it("should count what a fault or a bad header did to one agent's messages, and its notifications", () => {
    h.platform.faults.add({ match: { agentId: 2 }, action: { kind: 'drop' } });
    expect(h.send(2, PERF, PerformanceMessageId.LEVEL_GET, [0])).toBeUndefined();
    // A request shorter than a header: dropped, counted for the agent that sent it.
    expect(h.platform.handle(1, 0, new Uint8Array(2))).toBeUndefined();
    expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1], 1).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 800_000], 1).status).toBe(0);
    expect(h.platform.agentCounters(2)).toMatchObject({ requests: 1, responses: 0 });
    expect(h.platform.agentCounters(2).statuses).toEqual({});
    expect(h.platform.agentCounters(1)).toMatchObject({
      droppedRequests: 1,
      notificationsPosted: 1,
    });
    expect(h.platform.agentCounters(2).notificationsPosted).toBe(0);
  });

  it('should refuse an agent id the configuration does not have', () => {
    expect(() => h.platform.agentCounters(3)).toThrow(
      expect.objectContaining({ code: 'E_UNKNOWN_AGENT' }) as Error,
    );
    expect(() => h.platform.agentCounters(3)).toThrow(PlatformError);
    expect(() => h.platform.agentCounters(3)).toThrow(/agents 1, 2/);
  });
});
