import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  SystemPowerMessageId,
  SystemPowerNotificationId,
} from '@scmi-ts/platform';
import { Harness } from './support/harness';

const SYSTEM = ScmiProtocolId.SYSTEM;
const NEGOTIATE = 0x10;

describe('System power protocol (0x12)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  it("should report version 2.1 (SCMI v3.2), reserved protocol attributes, and warm reset and suspend support in STATE_SET's message attributes", () => {
    expect(h.call(SYSTEM, 0x0).words).toEqual([0x20001]);
    expect(h.call(SYSTEM, 0x1).words).toEqual([0]);
    expect(h.call(SYSTEM, 0x2, [SystemPowerMessageId.STATE_SET]).words).toEqual([0xc0000000]);
    for (const id of [
      SystemPowerMessageId.STATE_GET,
      SystemPowerMessageId.STATE_NOTIFY,
      0x10, // NEGOTIATE_PROTOCOL_VERSION
    ]) {
      expect(h.call(SYSTEM, 0x2, [id]).words).toEqual([0]);
    }
    expect(h.call(SYSTEM, 0x2, [6]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  it('should set and get the system state and notify subscribers with the flags and a timeout', () => {
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_GET).words).toEqual([3]);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1]).status).toBe(0);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 0], 2).status).toBe(0);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_GET).words).toEqual([0]);
    expect(h.links.get(1)?.messages).toEqual([
      {
        type: 3,
        protocolId: SYSTEM,
        messageId: SystemPowerNotificationId.STATE_NOTIFIER,
        token: 0,
        // agent_id, flags (graceful), system_state, timeout (version 2.0; none configured: 0)
        words: [2, 1, 0, 0],
      },
    ]);
    expect(h.links.get(2)?.posted).toHaveLength(0);
    expect(h.platform.snapshot().systemPower).toBe(0);
  });

  it('should power the system up for a trusted agent only, and only from shutdown or suspend (as SCP-firmware)', () => {
    const STATE_SET = SystemPowerMessageId.STATE_SET;
    const state = (): number | undefined => h.call(SYSTEM, SystemPowerMessageId.STATE_GET).words[0];
    // Running (3): nothing to power up, even for the trusted agent 2.
    expect(h.call(SYSTEM, STATE_SET, [0, 3], 2).status).toBe(ScmiStatus.DENIED);
    for (const from of [0, 4]) {
      expect(h.call(SYSTEM, STATE_SET, [0, from], 1).status).toBe(0);
      expect(h.call(SYSTEM, STATE_SET, [0, 3], 1).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(state()).toBe(from);
      expect(h.call(SYSTEM, STATE_SET, [0, 3], 2).status).toBe(0);
      expect(state()).toBe(3);
    }
    // From a reset state (cold 1, warm 2) too: DENIED.
    expect(h.call(SYSTEM, STATE_SET, [0, 1], 2).status).toBe(0);
    expect(h.call(SYSTEM, STATE_SET, [0, 3], 2).status).toBe(ScmiStatus.DENIED);
    expect(state()).toBe(1);
  });

  it('should not send STATE_NOTIFIER to the subscribed agent that asked for the transition', () => {
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 1).status).toBe(0);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 2).status).toBe(0);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 0], 1).status).toBe(0);
    expect(h.links.get(1)?.posted).toHaveLength(0);
    expect(h.links.get(2)?.messages.map((m) => m.words)).toEqual([[1, 1, 0, 0]]);
  });

  describe('SYSTEM_POWER_STATE_NOTIFIER timeout (version 2.0)', () => {
    const withTimeout = (gracefulTimeoutMs: number): Harness => {
      const config = createDefaultPlatformConfig();
      return new Harness({ ...config, systemPower: { state: 3, gracefulTimeoutMs } });
    };

    it('should carry the configured graceful timeout for a graceful request, 0 for a forceful one', () => {
      const t = withTimeout(5000);
      const link = t.connect(1);
      t.connect(2);
      expect(t.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 1).status).toBe(0);
      // Graceful shutdown, graceful warm reset, forceful cold reset (from agent 2).
      for (const [flags, state] of [
        [1, 0],
        [1, 2],
        [0, 1],
      ] as const) {
        expect(t.call(SYSTEM, SystemPowerMessageId.STATE_SET, [flags, state], 2).status).toBe(0);
      }
      expect(link.messages.map((m) => m.words)).toEqual([
        [2, 1, 0, 5000],
        [2, 1, 2, 5000],
        [2, 0, 1, 0],
      ]);
      t.close();
    });

    it('should send the 1.0 layout, without a timeout, to an agent that negotiated 1.0 only', () => {
      const t = withTimeout(250);
      const v1 = t.connect(1);
      const v2 = t.connect(2);
      expect(t.call(SYSTEM, NEGOTIATE, [0x10000], 1).status).toBe(0);
      expect([t.call(SYSTEM, 0x0, [], 1).words, t.call(SYSTEM, 0x0, [], 2).words]).toEqual([
        [0x10000],
        [0x20001],
      ]);
      for (const agent of [1, 2]) {
        expect(t.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], agent).status).toBe(0);
      }
      expect(t.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 0], 2).status).toBe(0);
      expect(t.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 4], 1).status).toBe(0);
      expect(v1.messages.map((m) => m.words)).toEqual([[2, 1, 0]]);
      expect(v2.messages.map((m) => m.words)).toEqual([[1, 1, 4, 250]]);
      // 2.0 negotiated: answered as 2.1, the timeout word included.
      expect(t.call(SYSTEM, NEGOTIATE, [0x20000], 1).status).toBe(0);
      expect(t.call(SYSTEM, 0x0, [], 1).words).toEqual([0x20000]);
      expect(t.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 2], 2).status).toBe(0);
      expect(v1.messages.map((m) => m.words)).toEqual([
        [2, 1, 0],
        [2, 1, 2, 250],
      ]);
      t.close();
    });

    it('should not speak versions it does not know', () => {
      for (const v of [0x20002, 0x30000, 0x10001, 0]) {
        expect(h.call(SYSTEM, NEGOTIATE, [v]).status).toBe(ScmiStatus.NOT_SUPPORTED);
      }
    });

    it('should report 2.0 without version negotiation (SCMI v3.1 firmware), timeout included', () => {
      const old = new Harness(createDefaultPlatformConfig(), {
        behaviour: { versionNegotiation: false },
      });
      const link = old.connect(1);
      old.connect(2);
      expect(old.call(SYSTEM, 0x0).words).toEqual([0x20000]);
      expect(old.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1]).status).toBe(0);
      expect(old.call(SYSTEM, SystemPowerMessageId.STATE_SET, [1, 4], 2).status).toBe(0);
      expect(link.messages.map((m) => m.words)).toEqual([[2, 1, 4, 0]]);
      old.close();
    });
  });

  it('should reject bad states (reserved, vendor: none defined), flags and sizes, and keep the state', () => {
    for (const state of [5, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff]) {
      expect(h.call(SYSTEM, SystemPowerMessageId.STATE_SET, [0, state], 2).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
    }
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_GET).words).toEqual([3]);
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_SET, [2, 0]).status).toBe(
      ScmiStatus.INVALID_PARAMETERS,
    );
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_SET, [0]).status).toBe(
      ScmiStatus.PROTOCOL_ERROR,
    );
    expect(h.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [4]).status).toBe(
      ScmiStatus.INVALID_PARAMETERS,
    );
  });

  it('should enable STATE_NOTIFIER only on a link it fits (16 bytes), and accept a disable on a smaller one', () => {
    const sized = new Harness();
    const fits = sized.connect(1, true, 16);
    const small = sized.connect(2, true, 15);
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 1).status).toBe(0);
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 2).status).toBe(
      ScmiStatus.NOT_SUPPORTED,
    );
    expect(sized.platform.subscriptions(2)).toEqual([]);
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [0], 2).status).toBe(0);
    // Agent 2 asks; agent 1, subscribed on a link the 16 bytes fit, is told.
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_SET, [0, 0], 2).status).toBe(0);
    expect(fits.messages.map((m) => m.words)).toEqual([[2, 0, 0, 0]]);
    expect(small.posted).toHaveLength(0);
    expect(sized.platform.counters.notificationsDropped).toBe(0);
    // At version 1.0 the notifier is 12 bytes: it fits the smaller link.
    expect(sized.call(SYSTEM, NEGOTIATE, [0x10000], 2).status).toBe(0);
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1], 2).status).toBe(0);
    expect(sized.call(SYSTEM, SystemPowerMessageId.STATE_SET, [0, 4], 1).status).toBe(0);
    expect(small.messages.map((m) => m.words)).toEqual([[1, 0, 4]]);
    sized.close();
  });

  it('should answer NOT_SUPPORTED to notify without a P2A channel', () => {
    const noP2a = new Harness();
    noP2a.connect(1, false);
    expect(noP2a.call(SYSTEM, SystemPowerMessageId.STATE_NOTIFY, [1]).status).toBe(
      ScmiStatus.NOT_SUPPORTED,
    );
    noP2a.close();
  });
});
