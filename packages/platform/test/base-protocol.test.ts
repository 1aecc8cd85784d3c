import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  BaseMessageId,
  BaseNotificationId,
  ClockMessageId,
  PowerMessageId,
  ResetMessageId,
  createDefaultPlatformConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { Harness, command, whileTimersFail } from './support/harness';

const BASE = ScmiProtocolId.BASE;

function listProtocols(h: Harness, agentId: number): number[] {
  const ids: number[] = [];
  for (;;) {
    const a = h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [ids.length], agentId);
    expect(a.status).toBe(ScmiStatus.SUCCESS);
    const n = a.r.u32();
    if (n === 0) return ids;
    for (let i = 0; i < n; i++) ids.push(a.r.u8());
    expect(a.r.remaining).toBe((4 - (n % 4)) % 4); // padded to whole words
  }
}

describe('Base protocol (0x10)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  describe('PROTOCOL_VERSION / PROTOCOL_ATTRIBUTES / PROTOCOL_MESSAGE_ATTRIBUTES', () => {
    it('should report version 2.1 (SCMI v3.2)', () => {
      expect(h.call(BASE, 0x0).words).toEqual([0x20001]);
    });

    it('should count the protocols the agent may use (Base excluded) and every agent', () => {
      expect(h.call(BASE, 0x1).words).toEqual([7 | (2 << 8)]);
      expect(h.call(BASE, 0x1, [], 2).words).toEqual([3 | (2 << 8)]);
    });

    it('should answer SUCCESS for implemented messages and NOT_FOUND for the others', () => {
      for (const id of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb]) {
        expect(h.call(BASE, 0x2, [id]).status).toBe(ScmiStatus.SUCCESS);
      }
      expect(h.call(BASE, 0x2, [0xc]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(BASE, 0x2, [0x10]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(BASE, 0x2, [0x11]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(BASE, 0x2, [0x1234]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should answer PROTOCOL_ERROR to a common message with a wrong payload size', () => {
      expect(h.call(BASE, 0x0, [1]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(BASE, 0x1, [1]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(BASE, 0x2, []).status).toBe(ScmiStatus.PROTOCOL_ERROR);
    });
  });

  describe('DISCOVER_VENDOR / SUB_VENDOR / IMPLEMENTATION_VERSION', () => {
    it('should return the configured identity', () => {
      expect(h.call(BASE, BaseMessageId.DISCOVER_VENDOR).r.string(16)).toBe('scmi-ts');
      const sub = h.call(BASE, BaseMessageId.DISCOVER_SUB_VENDOR);
      expect(sub.bytes.byteLength).toBe(8 + 16);
      expect(sub.r.string(16)).toBe('emulated');
      expect(h.call(BASE, BaseMessageId.DISCOVER_IMPLEMENTATION_VERSION).words).toEqual([0x10000]);
    });

    it('should answer PROTOCOL_ERROR when a payload is sent', () => {
      expect(h.call(BASE, BaseMessageId.DISCOVER_VENDOR, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('DISCOVER_LIST_PROTOCOLS', () => {
    it('should list the protocols each agent may use, ascending', () => {
      expect(listProtocols(h, 1)).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
      expect(listProtocols(h, 2)).toEqual([0x11, 0x12, 0x13]);
    });

    it('should answer in several parts when multiPartMax is small, whole words each time', () => {
      const small = new Harness(createDefaultPlatformConfig(), { behaviour: { multiPartMax: 2 } });
      small.connect(1);
      const first = small.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [0]);
      expect(first.words).toEqual([2, 0x11 | (0x12 << 8)]);
      expect(listProtocols(small, 1)).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
      small.close();
    });

    it('should fit the reply to a small maxMsgSize', () => {
      const tiny = new Harness();
      tiny.connect(1, true, 12); // status + count + one word of ids
      const first = tiny.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [0]);
      expect(first.words[0]).toBe(4);
      expect(listProtocols(tiny, 1)).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
      tiny.close();
    });

    it('should return 0 protocols when skip equals the total, INVALID_PARAMETERS beyond', () => {
      expect(h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [7]).words).toEqual([0]);
      expect(h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [8]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
    });

    it('should answer PROTOCOL_ERROR without a skip word', () => {
      expect(h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('DISCOVER_AGENT', () => {
    it('should describe the platform as agent 0, other agents, and the caller for 0xFFFFFFFF', () => {
      const platform = h.call(BASE, BaseMessageId.DISCOVER_AGENT, [0]);
      expect(platform.r.u32()).toBe(0);
      expect(platform.r.string(16)).toBe('platform');
      const psci = h.call(BASE, BaseMessageId.DISCOVER_AGENT, [2]);
      expect([psci.r.u32(), psci.r.string(16)]).toEqual([2, 'PSCI']);
      const self = h.call(BASE, BaseMessageId.DISCOVER_AGENT, [0xffffffff], 2);
      expect([self.r.u32(), self.r.string(16)]).toEqual([2, 'PSCI']);
    });

    it('should answer NOT_FOUND for an unknown agent', () => {
      expect(h.call(BASE, BaseMessageId.DISCOVER_AGENT, [3]).status).toBe(ScmiStatus.NOT_FOUND);
    });
  });

  describe('when the agent negotiated version 1.0', () => {
    beforeEach(() => {
      expect(h.call(BASE, 0x10, [0x10000]).status).toBe(ScmiStatus.SUCCESS);
    });

    it('should report version 1.0 to that agent only', () => {
      expect(h.call(BASE, 0x0).words).toEqual([0x10000]);
      expect(h.call(BASE, 0x0, [], 2).words).toEqual([0x20001]);
    });

    it('should return DISCOVER_AGENT as name[16] alone (v1 layout)', () => {
      const platform = h.call(BASE, BaseMessageId.DISCOVER_AGENT, [0]);
      expect(platform.bytes.byteLength).toBe(8 + 16);
      expect(platform.r.string(16)).toBe('platform');
      expect(h.call(BASE, BaseMessageId.DISCOVER_AGENT, [2]).r.string(16)).toBe('PSCI');
      expect(h.call(BASE, BaseMessageId.DISCOVER_AGENT, [0xffffffff]).r.string(16)).toBe('OSPM');
      expect(h.call(BASE, BaseMessageId.DISCOVER_AGENT, [3]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(BASE, BaseMessageId.DISCOVER_AGENT, [0], 2).bytes.byteLength).toBe(8 + 20);
    });

    it('should not know the permission commands, which version 2.0 added', () => {
      const commands: [number, number[]][] = [
        [BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 1]],
        [BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, 0x14, 1]],
        [BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 0]],
      ];
      for (const [id, payload] of commands) {
        expect(h.call(BASE, 0x2, [id]).status).toBe(ScmiStatus.NOT_FOUND);
        expect(h.call(BASE, id, payload).status).toBe(ScmiStatus.NOT_FOUND);
      }
      expect(h.call(BASE, 0x2, [BaseMessageId.NOTIFY_ERRORS]).status).toBe(ScmiStatus.SUCCESS);
    });
  });

  describe('when the agent negotiated version 2.0', () => {
    beforeEach(() => {
      expect(h.call(BASE, 0x10, [0x20000]).status).toBe(ScmiStatus.SUCCESS);
    });

    it('should report 2.0 and answer in the 2.0 layouts, which 2.1 left as they were', () => {
      expect(h.call(BASE, 0x0).words).toEqual([0x20000]);
      const psci = h.call(BASE, BaseMessageId.DISCOVER_AGENT, [2]);
      expect([psci.bytes.byteLength, psci.r.u32(), psci.r.string(16)]).toEqual([8 + 20, 2, 'PSCI']);
      for (const id of [0x9, 0xa, 0xb]) expect(h.call(BASE, 0x2, [id]).status).toBe(0);
    });
  });

  describe('NOTIFY_ERRORS', () => {
    it('should subscribe the agent and report its malformed messages', () => {
      expect(h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: BASE, notificationId: BaseNotificationId.ERROR_EVENT, domainId: 0 },
      ]);
      const bad = command(BASE, 3, 1);
      bad[3] = 0xf0; // reserved bits
      expect(h.platform.handle(1, 0, bad)).toBeUndefined();
      expect(h.platform.handle(1, 0, new Uint8Array(2))).toBeUndefined();
      const events = h.links.get(1)?.messages ?? [];
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({ type: 3, protocolId: BASE, messageId: 0, token: 0 });
      expect(events[0]?.words).toEqual([1, 1, 0xf0044003, 0]);
      expect(events[1]?.words).toEqual([1, 0]);
      expect(h.links.get(2)?.posted).toHaveLength(0);
    });

    it('should never throw from handle when the error event cannot be sent: a post that throws, a fault timer the clock cannot arm', () => {
      expect(h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]).status).toBe(ScmiStatus.SUCCESS);
      const link = h.link(1);
      link.accept = () => {
        throw new Error('the link failed');
      };
      expect(h.platform.handle(1, 0, new Uint8Array([1, 2]))).toBeUndefined();
      expect(h.platform.counters).toMatchObject({
        requests: 1,
        droppedRequests: 1,
        notificationsPosted: 0,
        notificationsDropped: 1,
      });
      // A P2A fault that delays the event, on a clock that cannot arm its timer.
      link.accept = () => true;
      h.platform.faults.add({ match: { stage: 'notification' }, action: { kind: 'delay', ms: 5 } });
      const bad = command(BASE, 3, 1);
      bad[3] = 0xf0; // reserved bits
      expect(whileTimersFail(h.clock, () => h.platform.handle(1, 0, bad))).toBeUndefined();
      expect(h.platform.counters).toMatchObject({
        requests: 1,
        droppedRequests: 2,
        notificationsPosted: 0,
        notificationsDropped: 2,
      });
      expect(h.platform.armedTimers).toBe(0);
      expect(link.posted).toHaveLength(0);
      expect(h.platform.connectedAgents).toEqual([1, 2]);
    });

    it('should unsubscribe, and reject reserved bits with INVALID_PARAMETERS', () => {
      h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]);
      expect(h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [0]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [2]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
    });
  });

  describe('SET_DEVICE_PERMISSIONS / SET_PROTOCOL_PERMISSIONS / RESET_AGENT_CONFIGURATION', () => {
    /** SET_DEVICE_PERMISSIONS / SET_PROTOCOL_PERMISSIONS from trusted agent 2: the status. */
    const dev = (p: number[]): number =>
      h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, p, 2).status;
    const proto = (p: number[]): number =>
      h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, p, 2).status;
    const readClock = (agentId: number): number =>
      h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, [0], agentId).status;

    it('should let a trusted agent deny and allow a device to another agent', () => {
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
      expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 0], 2).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
      expect(h.call(ScmiProtocolId.POWER, PowerMessageId.STATE_GET, [0]).status).toBe(
        ScmiStatus.DENIED,
      );
      h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 1], 2);
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
    });

    it('should answer SUCCESS to denying a device the agent cannot access, changing nothing (as SCP-firmware; scmi-tests test_b012 expects NOT_FOUND)', () => {
      // Agent 2 (PSCI) may use power domain 0 (device 0, cpu) only: device 1 (gpu: power 1,
      // performance 1, …) and device 2 (uart: clock 1, reset 2) it cannot access.
      const power = (id: number): number =>
        h.call(ScmiProtocolId.POWER, PowerMessageId.STATE_GET, [id], 2).status;
      expect([power(0), power(1)]).toEqual([ScmiStatus.SUCCESS, ScmiStatus.DENIED]);
      expect(dev([2, 2, 0])).toBe(ScmiStatus.SUCCESS);
      expect(dev([2, 1, 0])).toBe(ScmiStatus.SUCCESS);
      expect([power(0), power(1)]).toEqual([ScmiStatus.SUCCESS, ScmiStatus.DENIED]);
      // A device already denied: SUCCESS again.
      expect(dev([1, 2, 0])).toBe(ScmiStatus.SUCCESS);
      expect(dev([1, 2, 0])).toBe(ScmiStatus.SUCCESS);
      expect(h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, [1], 1).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
    });

    it('should deny the domains of a device, not the protocol-level messages of their protocols (as SCP-firmware)', () => {
      const before = listProtocols(h, 1);
      h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 0], 2);
      h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, ScmiProtocolId.CLOCK, 0], 2);
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
      for (const messageId of [0x0, 0x1]) {
        expect(h.call(ScmiProtocolId.CLOCK, messageId, [], 1).status).toBe(ScmiStatus.SUCCESS);
      }
      expect(h.call(ScmiProtocolId.CLOCK, 0x2, [ClockMessageId.RATE_GET], 1).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(listProtocols(h, 1)).toEqual(before);
      expect(h.call(BASE, 0x1, [], 1).words).toEqual([7 | (2 << 8)]);
    });

    it('should change one protocol of a device only', () => {
      h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, ScmiProtocolId.CLOCK, 0], 2);
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
      expect(h.call(ScmiProtocolId.POWER, PowerMessageId.STATE_GET, [0]).status).toBe(
        ScmiStatus.SUCCESS,
      );
    });

    it('should answer DENIED to an agent that is not trusted', () => {
      expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [2, 0, 1], 1).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [2, 0, 0x14, 1], 1).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [2, 0], 1).status).toBe(
        ScmiStatus.DENIED,
      );
    });

    it('should not let an agent that is not trusted restore its own permissions, and change nothing', () => {
      h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 0], 2);
      h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]);
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 1], 1).status).toBe(
        ScmiStatus.DENIED,
      );
      // The trusted agent's deny stands, and nothing else was reset either.
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
      expect(h.platform.subscriptions(1)).not.toEqual([]);
      // Its own configuration without its permissions: allowed.
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 0], 1).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
    });

    it('should answer NOT_FOUND, DENIED and INVALID_PARAMETERS for bad arguments', () => {
      expect(dev([9, 0, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(dev([0, 0, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(dev([1, 4, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(dev([1, 0, 2])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(proto([9, 0, 0x14, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(proto([1, 9, 0x14, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(proto([1, 0, 0x10, 1])).toBe(ScmiStatus.DENIED);
      expect(proto([1, 0, 0x12, 1])).toBe(ScmiStatus.NOT_FOUND); // System power has no domains
      expect(proto([1, 0, 0x99, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(proto([1, 0, 0x14, 4])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [7, 0], 2).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 2], 2).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(dev([1, 0])).toBe(ScmiStatus.PROTOCOL_ERROR);
    });

    it('should answer DENIED to SET_PROTOCOL_PERMISSIONS for the Base protocol, as SCP-firmware, and change nothing', () => {
      const before = listProtocols(h, 1);
      for (const flags of [0, 1]) {
        expect(
          h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, BASE, flags], 2).status,
        ).toBe(ScmiStatus.DENIED);
      }
      // Before the device is looked at (scmi_base_set_protocol_permissions checks Base first).
      expect(h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 9, BASE, 0], 2).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(listProtocols(h, 1)).toEqual(before);
      expect(h.call(BASE, BaseMessageId.DISCOVER_VENDOR, [], 1).status).toBe(ScmiStatus.SUCCESS);
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
      expect(h.call(ScmiProtocolId.POWER, PowerMessageId.STATE_GET, [0]).status).toBe(
        ScmiStatus.SUCCESS,
      );
    });

    it('should check the agent, then the flags, then Base, then the device and the protocol, as SCP-firmware', () => {
      // Unknown agent before reserved flags; reserved flags before an unknown device.
      expect(dev([9, 9, 2])).toBe(ScmiStatus.NOT_FOUND);
      expect(dev([1, 9, 2])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(proto([9, 9, 0x10, 2])).toBe(ScmiStatus.NOT_FOUND);
      expect(proto([1, 9, 0x10, 2])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(proto([1, 9, 0x99, 2])).toBe(ScmiStatus.INVALID_PARAMETERS);
      // Base before the device; the device before the protocol.
      expect(proto([1, 9, 0x10, 0])).toBe(ScmiStatus.DENIED);
      expect(proto([1, 9, 0x99, 0])).toBe(ScmiStatus.NOT_FOUND);
      // None of them changed anything.
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
      expect(h.call(ScmiProtocolId.POWER, PowerMessageId.STATE_GET, [0]).status).toBe(
        ScmiStatus.SUCCESS,
      );
    });

    it('should accept SET_PROTOCOL_PERMISSIONS for a protocol the device has no domain of and change nothing, as SCP-firmware', () => {
      const reset = (id: number): number =>
        h.call(ScmiProtocolId.RESET, ResetMessageId.RESET, [id, 1, 0], 1).status;
      // Device 0 (cpu) has no reset domain; device 1 (gpu) has reset domain 0.
      expect(
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, ScmiProtocolId.RESET, 0], 2)
          .status,
      ).toBe(ScmiStatus.SUCCESS);
      for (const id of [0, 1, 2]) expect(reset(id)).toBe(ScmiStatus.SUCCESS);
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
      expect(
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 1, ScmiProtocolId.RESET, 0], 2)
          .status,
      ).toBe(ScmiStatus.SUCCESS);
      expect(reset(0)).toBe(ScmiStatus.DENIED);
      expect([reset(1), reset(2)]).toEqual([ScmiStatus.SUCCESS, ScmiStatus.SUCCESS]);
    });

    it('should reset subscriptions, and permissions when flag bit 0 is set', () => {
      h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, 0, 0], 2);
      h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]);
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 0], 1).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(readClock(1)).toBe(ScmiStatus.DENIED);
      h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 1], 2);
      expect(readClock(1)).toBe(ScmiStatus.SUCCESS);
    });
  });

  it('should answer NOT_FOUND to SET_PROTOCOL_PERMISSIONS for a protocol the platform does not implement', () => {
    const config: PlatformConfig = {
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 0,
      agents: [{ id: 1, name: 'admin', protocols: ['reset'], trusted: true }],
      devices: [{ name: 'd', domains: { reset: [0] } }],
      resetDomains: [{ name: 'r' }],
    };
    const one = new Harness(config);
    one.connect(1);
    const proto = (protocolId: number): number =>
      one.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, protocolId, 0]).status;
    expect(proto(ScmiProtocolId.CLOCK)).toBe(ScmiStatus.NOT_FOUND);
    expect(one.call(ScmiProtocolId.RESET, ResetMessageId.RESET, [0, 1, 0]).status).toBe(0);
    expect(proto(ScmiProtocolId.RESET)).toBe(ScmiStatus.SUCCESS);
    expect(one.call(ScmiProtocolId.RESET, ResetMessageId.RESET, [0, 1, 0]).status).toBe(
      ScmiStatus.DENIED,
    );
    one.close();
  });

  it('should hide protocols without domains from every agent', () => {
    const config: PlatformConfig = {
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 0,
      agents: [{ id: 1, name: 'only', protocols: ['reset'] }],
      resetDomains: [{ name: 'r' }],
    };
    const one = new Harness(config);
    one.connect(1);
    expect(listProtocols(one, 1)).toEqual([0x16]);
    expect(one.call(ScmiProtocolId.CLOCK, 0, [], 1).status).toBe(ScmiStatus.NOT_SUPPORTED);
    one.close();
  });
});
