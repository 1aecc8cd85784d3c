import {
  ScmiMessageType,
  ScmiProtocolId,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  headerToken,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  ClockMessageId,
  FaultInjector,
  PlatformError,
  PowerMessageId,
  createDefaultPlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import { Harness, decodeAnswer, defined } from './support/harness';

const BASE = ScmiProtocolId.BASE;
const POWER = ScmiProtocolId.POWER;
const CLOCK = ScmiProtocolId.CLOCK;
const OFF = 0x40000000;

function vendor(h: Harness, token: number, agentId = 1): Uint8Array | undefined {
  return h.send(agentId, BASE, BaseMessageId.DISCOVER_VENDOR, [], token);
}

describe(FaultInjector, () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  describe('command faults', () => {
    it('drop: should process the command and lose the response', () => {
      h.platform.faults.add({ match: { protocolId: POWER }, action: { kind: 'drop' } });
      expect(h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF])).toBeUndefined();
      expect(h.platform.snapshot().powerDomains[0]).toBe(OFF);
      expect(h.platform.faults.counts.drop).toBe(1);
      expect(vendor(h, 1)).toBeDefined();
    });

    it('delay: should process the command only after the delay, replying through respond', async () => {
      h.platform.faults.add({ match: { protocolId: POWER }, action: { kind: 'delay', ms: 10 } });
      expect(h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 5)).toBeUndefined();
      await h.clock.advance(9);
      expect(h.platform.snapshot().powerDomains[0]).toBe(0);
      expect(h.link(1).responses).toHaveLength(0);
      await h.clock.advance(1);
      expect(h.platform.snapshot().powerDomains[0]).toBe(OFF);
      const [late] = h.link(1).responses;
      expect(late?.channelId).toBe(0);
      expect(decodeAnswer(defined(late).bytes)).toMatchObject({ status: 0, token: 5 });
      expect(h.platform.counters.lateResponses).toBe(1);
    });

    it('late-reply: should process now and reply after the delay', async () => {
      h.platform.faults.add({ action: { kind: 'late-reply', ms: 50 } });
      expect(h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 6)).toBeUndefined();
      expect(h.platform.snapshot().powerDomains[0]).toBe(OFF);
      await h.clock.advance(49);
      expect(h.link(1).responses).toHaveLength(0);
      await h.clock.advance(1);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([6]);
    });

    it('duplicate: should return the response and send a copy later', async () => {
      h.platform.faults.add({ action: { kind: 'duplicate', delayMs: 3 } });
      const now = defined(vendor(h, 7));
      await h.clock.advance(3);
      expect(h.link(1).responses.map((r) => Array.from(r.bytes))).toEqual([Array.from(now)]);
    });

    it('duplicate: should send the copy on the next timer turn by default', async () => {
      h.platform.faults.add({ action: { kind: 'duplicate' } });
      vendor(h, 7);
      expect(h.link(1).responses).toHaveLength(0);
      await h.clock.advance(0);
      expect(h.link(1).responses).toHaveLength(1);
    });

    it('reorder: should swap the response with the next one on the same channel', async () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'reorder' } });
      expect(vendor(h, 1)).toBeUndefined();
      const second = defined(vendor(h, 2));
      expect(decodeAnswer(second).token).toBe(2);
      await h.clock.advance(0);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1]);
    });

    it('reorder: should release a held response after maxHoldMs when nothing follows', async () => {
      h.platform.faults.add({ action: { kind: 'reorder', maxHoldMs: 20 } });
      expect(vendor(h, 1)).toBeUndefined();
      await h.clock.advance(19);
      expect(h.link(1).responses).toHaveLength(0);
      await h.clock.advance(1);
      expect(h.link(1).responses).toHaveLength(1);
    });

    it('reorder: a held response still follows the next one after every rule is removed', async () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'reorder' } });
      expect(vendor(h, 1)).toBeUndefined();
      h.platform.faults.clear();
      expect(h.platform.faults.isEmpty).toBe(true);
      expect(decodeAnswer(defined(vendor(h, 2))).token).toBe(2);
      await h.clock.advance(0);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1]);
      expect([h.platform.counters.responses, h.platform.counters.lateResponses]).toEqual([1, 1]);
    });

    it('reorder: two held in a row release the first when the second is held', async () => {
      h.platform.faults.add({ match: { times: 2 }, action: { kind: 'reorder' } });
      expect(vendor(h, 1)).toBeUndefined();
      expect(vendor(h, 2)).toBeUndefined();
      await h.clock.advance(0);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1]);
      expect(decodeAnswer(defined(vendor(h, 3))).token).toBe(3);
      await h.clock.advance(0);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1, 2]);
    });

    it('hold: should process now and send the response only when released, to its channel, oldest first', async () => {
      h.platform.faults.add({ match: { times: 2 }, action: { kind: 'hold', maxHoldMs: 1000 } });
      expect(h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 6)).toBeUndefined();
      expect(h.platform.snapshot().powerDomains[0]).toBe(OFF);
      expect(vendor(h, 7, 2)).toBeUndefined();
      // Not released by the next response (as reorder is) nor by time short of maxHoldMs.
      expect(decodeAnswer(defined(vendor(h, 8))).token).toBe(8);
      await h.clock.advance(999);
      expect([h.link(1).responses, h.link(2).responses]).toEqual([[], []]);
      expect(h.platform.releaseHeldResponses()).toBe(2);
      expect(h.link(1).responses.map((r) => [r.channelId, decodeAnswer(r.bytes).token])).toEqual([
        [0, 6],
      ]);
      expect(h.link(2).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([7]);
      expect(h.platform.counters.lateResponses).toBe(2);
      // Sent once: the hold timers were cancelled, and nothing is left to release.
      expect(h.platform.armedTimers).toBe(0);
      await h.clock.advance(10);
      expect(h.link(1).responses).toHaveLength(1);
      expect(h.platform.releaseHeldResponses()).toBe(0);
      expect(h.platform.faults.counts.hold).toBe(2);
    });

    it('hold: should send the response after maxHoldMs (default 100) when nothing releases it', async () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'hold' } });
      expect(vendor(h, 1)).toBeUndefined();
      await h.clock.advance(99);
      expect(h.link(1).responses).toHaveLength(0);
      await h.clock.advance(1);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1]);
      expect(h.platform.releaseHeldResponses()).toBe(0);
      expect(h.link(1).responses).toHaveLength(1);
    });

    it('hold: a release that disconnects the agent sends none of its other held messages, and counts them once', () => {
      h.platform.faults.add({ match: { times: 2 }, action: { kind: 'hold' } });
      expect(vendor(h, 1)).toBeUndefined();
      expect(vendor(h, 2)).toBeUndefined();
      // A link that closes its agent when it gets a response, as a slow consumer's may.
      const respond = h.link(1).respond.bind(h.link(1));
      h.link(1).respond = (channelId, bytes, command) => {
        respond(channelId, bytes, command);
        h.connection(1).disconnect();
      };
      expect(h.platform.releaseHeldResponses()).toBe(1);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([1]);
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
      expect(h.platform.armedTimers).toBe(0);
    });

    it('hold: a disconnect cancels the held response, counted; a release then sends nothing', async () => {
      h.platform.faults.add({ match: { times: 2 }, action: { kind: 'hold' } });
      expect(vendor(h, 1)).toBeUndefined();
      expect(vendor(h, 2, 2)).toBeUndefined();
      h.connection(1).disconnect();
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
      expect(h.platform.releaseHeldResponses()).toBe(1);
      expect(h.link(1).responses).toHaveLength(0);
      expect(h.link(2).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([2]);
      await h.clock.advance(100);
      expect(h.link(1).responses).toHaveLength(0);
    });

    it('corrupt-token / corrupt-type / corrupt-protocol: should rewrite the header', () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'corrupt-token' } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'corrupt-token', token: 9 } });
      h.platform.faults.add({ match: { nth: 3 }, action: { kind: 'corrupt-type' } });
      h.platform.faults.add({ match: { nth: 4 }, action: { kind: 'corrupt-type', type: 2 } });
      h.platform.faults.add({ match: { nth: 5 }, action: { kind: 'corrupt-protocol' } });
      h.platform.faults.add({
        match: { nth: 6 },
        action: { kind: 'corrupt-protocol', protocolId: 0x14 },
      });
      const header = (t: number): number =>
        new DataView(defined(vendor(h, t)).buffer).getUint32(0, true);
      expect(headerToken(header(5))).toBe(5 ^ 0x200);
      expect(headerToken(header(5))).toBe(9);
      expect((header(5) >>> 8) & 3).toBe(1);
      expect((header(5) >>> 8) & 3).toBe(2);
      expect((header(5) >>> 10) & 0xff).toBe(0x10 ^ 0xff);
      expect((header(5) >>> 10) & 0xff).toBe(0x14);
      expect(headerToken(header(5))).toBe(5);
    });

    it('corrupt-bytes: should overwrite from the offset and keep the length, over the header rewrites, and truncation still applies', () => {
      const clean = defined(vendor(h, 1));
      expect(clean.byteLength).toBe(24); // header, status, vendor[16]
      h.platform.faults.add({
        match: { nth: 1 },
        action: { kind: 'corrupt-bytes', offset: 8, bytes: [0x41, 0x42] },
      });
      // Past the end: only what lands inside the message is written.
      h.platform.faults.add({
        match: { nth: 2 },
        action: { kind: 'corrupt-bytes', offset: 22, bytes: [1, 2, 3, 4] },
      });
      h.platform.faults.add({
        match: { nth: 3 },
        action: { kind: 'corrupt-bytes', offset: 30, bytes: [9] },
      });
      // The status, over a corrupted token; then a truncation cuts what was written.
      h.platform.faults.add({ match: { nth: 4 }, action: { kind: 'corrupt-token', token: 5 } });
      h.platform.faults.add({
        match: { nth: 4 },
        action: { kind: 'corrupt-bytes', offset: 2, bytes: [0xff, 0xff, 0xf6, 0xff, 0xff, 0xff] },
      });
      h.platform.faults.add({ match: { nth: 4 }, action: { kind: 'truncate', length: 8 } });
      const first = defined(vendor(h, 1));
      expect([...first.subarray(0, 12)]).toEqual([
        ...clean.subarray(0, 8),
        0x41,
        0x42,
        ...clean.subarray(10, 12),
      ]);
      expect(first.byteLength).toBe(24);
      const second = defined(vendor(h, 1));
      expect([...second]).toEqual([...clean.subarray(0, 22), 1, 2]);
      expect([...defined(vendor(h, 1))]).toEqual([...clean]);
      const fourth = defined(vendor(h, 1));
      const view = new DataView(fourth.buffer, fourth.byteOffset);
      expect(fourth.byteLength).toBe(8);
      // Bytes 2–3 of the header (the token's bits) then the status, -10 (PROTOCOL_ERROR's code).
      expect((view.getUint32(0, true) >>> 16) & 0xffff).toBe(0xffff);
      expect(view.getInt32(4, true)).toBe(-10);
      // Every rule fired, the one that found nothing to write included.
      expect(h.platform.faults.counts['corrupt-bytes']).toBe(4);
    });

    it('corrupt-bytes: should hand out its rule read-only, and copy only the bytes it bounded', () => {
      /** An array whose own slice would hand out far more than was bounded. */
      class Sneaky extends Array<number> {
        public override slice(): number[] {
          return new Array<number>(200_000).fill(7);
        }
      }
      const clean = [...defined(vendor(h, 1))];
      const bytes = Sneaky.from([0x41]);
      h.platform.faults.add({
        match: { nth: 1 },
        action: { kind: 'corrupt-bytes', offset: 8, bytes },
      });
      const [rule] = h.platform.faults.rules;
      const action = rule?.action as unknown as { bytes: number[] };
      expect(action.bytes).toEqual([0x41]);
      expect(() => action.bytes.push(999)).toThrow(TypeError);
      expect(() => {
        (rule?.match as { nth: number }).nth = 2;
      }).toThrow(TypeError);
      expect([...defined(vendor(h, 1))]).toEqual([...clean.slice(0, 8), 0x41, ...clean.slice(9)]);
    });

    it('corrupt-bytes: should rewrite a notification', () => {
      h.platform.faults.add({
        match: { stage: 'notification' },
        action: { kind: 'corrupt-bytes', offset: 4, bytes: [9, 0, 0, 0] },
      });
      expect(h.call(BASE, BaseMessageId.NOTIFY_ERRORS, [1]).status).toBe(0);
      // A request shorter than a header: BASE_ERROR_EVENT (agent_id, error_status, …) to agent 1.
      h.platform.handle(1, 0, new Uint8Array(2));
      const [event] = h.link(1).messages;
      expect(event?.type).toBe(3);
      expect(event?.words[0]).toBe(9); // agent_id rewritten
    });

    it('corrupt-bytes: should rewrite what the platform posts, and keep a copy of its bytes', async () => {
      const bytes = [0x78, 0x56, 0x34, 0x12];
      h.platform.faults.add({
        match: { stage: 'delayed-response' },
        action: { kind: 'corrupt-bytes', offset: 12, bytes },
      });
      bytes.fill(0);
      h.send(1, CLOCK, ClockMessageId.RATE_SET, [1, 0, 300_000_000, 0], 1);
      await h.clock.advance(10);
      // status, clock_id, rate low (rewritten), rate high
      expect(h.link(1).messages[0]?.words).toEqual([0, 0, 0x12345678, 0]);
    });

    it('truncate: should cut the response', () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'truncate' } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'truncate', length: 2 } });
      h.platform.faults.add({
        match: { nth: 2 },
        action: { kind: 'corrupt-token', token: 1 },
      });
      expect(vendor(h, 1)?.byteLength).toBe(6);
      expect(vendor(h, 1)?.byteLength).toBe(2);
      expect(vendor(h, 1)?.byteLength).toBe(24);
    });

    it('unsolicited: should also send a response for a token no one sent', async () => {
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'unsolicited' } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'unsolicited', token: 1000 } });
      expect(vendor(h, 3)).toBeDefined();
      expect(vendor(h, 4)).toBeDefined();
      await h.clock.advance(0);
      const answers = h.link(1).responses.map((r) => decodeAnswer(r.bytes));
      expect(answers.map((a) => [a.token, a.status, a.bytes.byteLength])).toEqual([
        [3 ^ 0x200, ScmiStatus.SUCCESS, 8],
        [1000, ScmiStatus.SUCCESS, 8],
      ]);
    });

    it('should name the command each later response answers, whatever its own header says; none for an unsolicited one', async () => {
      const command = (messageId: number, token: number): number =>
        buildHeader(messageId, ScmiMessageType.COMMAND, BASE, token);
      const VENDOR = BaseMessageId.DISCOVER_VENDOR;
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 1 } });
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'corrupt-token', token: 99 } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'late-reply', ms: 1 } });
      h.platform.faults.add({ match: { nth: 3 }, action: { kind: 'duplicate' } });
      h.platform.faults.add({ match: { nth: 4 }, action: { kind: 'reorder' } });
      h.platform.faults.add({ match: { nth: 6 }, action: { kind: 'unsolicited' } });
      for (let token = 1; token <= 6; token++) vendor(h, token);
      await h.clock.advance(1);
      const named = h.link(1).responses.map((r) => [decodeAnswer(r.bytes).token, r.command]);
      expect(named).toEqual(
        expect.arrayContaining([
          [99, command(VENDOR, 1)], // delay, its header rewritten
          [2, command(VENDOR, 2)], // late-reply
          [3, command(VENDOR, 3)], // duplicate
          [4, command(VENDOR, 4)], // reorder: released after the next response
          [6 ^ 0x200, undefined], // unsolicited
        ]),
      );
      expect(named).toHaveLength(5);
    });

    it('notification-storm: should post many notifications at once, subscribed or not', () => {
      h.platform.faults.add({
        match: { nth: 1 },
        action: { kind: 'notification-storm', count: 50 },
      });
      h.platform.faults.add({
        match: { nth: 2 },
        action: {
          kind: 'notification-storm',
          count: 3,
          protocolId: CLOCK,
          messageId: 1,
          payload: [0, 2, 7, 0],
        },
      });
      expect(vendor(h, 1)).toBeDefined();
      const storm = h.link(1).messages;
      expect(storm).toHaveLength(50);
      expect(storm[0]).toEqual({
        type: 3,
        protocolId: BASE,
        messageId: 0,
        token: 0,
        words: [0, 0, 0],
      });
      h.link(1).accept = () => false;
      vendor(h, 2);
      expect(h.platform.counters).toMatchObject({
        notificationsPosted: 50,
        notificationsDropped: 3,
      });
    });

    it('notification-storm: should drop, and count, notifications larger than maxMsgSize', () => {
      const fits = Array.from({ length: 32 }, (_, i) => i); // 128 bytes: the link's maxMsgSize
      h.platform.faults.add({
        match: { nth: 1 },
        action: { kind: 'notification-storm', count: 4, payload: [...fits, 32] },
      });
      h.platform.faults.add({
        match: { nth: 2 },
        action: { kind: 'notification-storm', count: 2, payload: fits },
      });
      expect(vendor(h, 1)).toBeDefined();
      expect(h.link(1).posted).toHaveLength(0);
      expect(h.platform.counters.notificationsDropped).toBe(4);
      expect(vendor(h, 2)).toBeDefined();
      expect(h.link(1).messages.map((m) => m.words)).toEqual([fits, fits]);
      expect(h.platform.counters).toMatchObject({
        notificationsPosted: 2,
        notificationsDropped: 4,
      });
    });

    it('notification-storm: should not process the command once post disconnected the agent', () => {
      h.platform.faults.add({ action: { kind: 'notification-storm', count: 10 } });
      // A link that closes its agent while posting, as the peer port does for a client that reads
      // nothing.
      h.link(1).accept = () => {
        h.connection(1).disconnect();
        return false;
      };
      expect(h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF])).toBeUndefined();
      expect(h.platform.snapshot().powerDomains[0]).toBe(0);
      expect(h.link(1).refused).toBe(1);
      expect(h.platform.connectedAgents).toEqual([2]);
    });

    it('notification-storm: should take back what else fired on a command the disconnect left unprocessed', async () => {
      h.platform.faults.add({
        id: 'storm',
        match: { times: 1 },
        action: { kind: 'notification-storm', count: 3 },
      });
      h.platform.faults.add({
        id: 'storm2',
        match: { times: 1 },
        action: { kind: 'notification-storm', count: 3 },
      });
      h.platform.faults.add({
        id: 'unsolicited',
        match: { times: 1 },
        action: { kind: 'unsolicited' },
      });
      h.platform.faults.add({ id: 'drop', match: { times: 1 }, action: { kind: 'drop' } });
      h.platform.faults.add({
        id: 'token',
        match: { times: 1 },
        action: { kind: 'corrupt-token', token: 3 },
      });
      h.link(1).accept = () => {
        h.connection(1).disconnect();
        return false;
      };
      expect(vendor(h, 1)).toBeUndefined();
      expect(h.link(1).refused).toBe(1);
      // The first storm posted (and so disconnected the agent); nothing else was done.
      expect(h.platform.faults.log.map((e) => e.ruleId)).toEqual(['storm']);
      expect(h.platform.faults.counts).toMatchObject({
        'notification-storm': 1,
        unsolicited: 0,
        drop: 0,
        'corrupt-token': 0,
      });
      // The rules taken back keep their one firing for the next command (another agent's).
      expect(vendor(h, 7, 2)).toBeUndefined(); // the second storm posts; dropped
      await h.clock.advance(0);
      expect(h.link(2).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([7 ^ 0x200]);
      expect(h.platform.faults.log.map((e) => e.ruleId)).toEqual([
        'storm',
        'storm2',
        'unsolicited',
        'drop',
        'token',
      ]);
      expect(h.platform.faults.counts).toMatchObject({
        'notification-storm': 2,
        unsolicited: 1,
        drop: 1,
        'corrupt-token': 1,
      });
    });

    it.each<[string, FaultRule['action'], boolean, number]>([
      // kind, action, a response returned now, cancelled by the disconnect
      ['late-reply', { kind: 'late-reply', ms: 50 }, false, 1],
      ['reorder', { kind: 'reorder', maxHoldMs: 50 }, false, 1],
      ['hold', { kind: 'hold', maxHoldMs: 50 }, false, 1],
      ['duplicate', { kind: 'duplicate', delayMs: 50 }, true, 1],
      ['drop', { kind: 'drop' }, false, 0],
    ])(
      '%s: should arm nothing once the notification post of its own command disconnected the agent, counting what is lost as cancelled',
      async (_kind, action, returned, cancelled) => {
        expect(h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]).status).toBe(0);
        h.platform.faults.add({
          match: { protocolId: POWER, messageId: PowerMessageId.STATE_SET },
          action,
        });
        // A link that closes its agent when it refuses a post, as the peer port does for a slow
        // consumer: POWER_STATE_CHANGED, posted while STATE_SET is processed, disconnects agent 1.
        const link = h.link(1);
        link.accept = () => {
          h.connection(1).disconnect();
          return false;
        };
        const response = h.send(1, POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 9);
        expect(h.platform.snapshot().powerDomains[0]).toBe(OFF); // processed
        expect(h.platform.connectedAgents).toEqual([2]);
        if (returned)
          expect(decodeAnswer(defined(response))).toMatchObject({ status: 0, token: 9 });
        else expect(response).toBeUndefined();
        expect(h.platform.armedTimers).toBe(0);
        expect(h.clock.armedTimers).toBe(0);
        expect(h.platform.counters).toMatchObject({
          requests: 2,
          responses: returned ? 2 : 1,
          lateResponses: 0,
          notificationsDropped: 1,
          cancelledOnDisconnect: cancelled,
        });
        // Nothing follows, not even to a new connection of the agent (a held response would be
        // released after its next response).
        const again = h.connect(1);
        h.platform.faults.clear();
        expect(vendor(h, 10)).toBeDefined();
        await h.clock.advance(100);
        expect(link.responses).toHaveLength(0);
        expect(again.responses).toHaveLength(0);
        expect(h.platform.counters.lateResponses).toBe(0);
      },
    );

    it('should apply transforms first, then the first delivery change, in rule order', async () => {
      h.platform.faults.add({
        id: 'late',
        match: { times: 1 },
        action: { kind: 'late-reply', ms: 5 },
      });
      h.platform.faults.add({ id: 'drop', match: { times: 1 }, action: { kind: 'drop' } });
      h.platform.faults.add({ id: 'token', action: { kind: 'corrupt-token', token: 3 } });
      expect(vendor(h, 1)).toBeUndefined();
      await h.clock.advance(5);
      expect(h.link(1).responses.map((r) => decodeAnswer(r.bytes).token)).toEqual([3]);
      // What was done to the reply, and only that: the drop it was not given is neither counted
      // nor logged, and the drop rule keeps its one firing for the next reply.
      expect(h.platform.faults.counts).toMatchObject({
        'late-reply': 1,
        drop: 0,
        'corrupt-token': 1,
      });
      expect(h.platform.faults.log.map((e) => e.ruleId)).toEqual(['late', 'token']);
      expect(vendor(h, 2)).toBeUndefined(); // the late reply spent: now the drop
      await h.clock.advance(5);
      expect(h.link(1).responses).toHaveLength(1);
      expect(h.platform.faults.counts).toMatchObject({ 'late-reply': 1, drop: 1 });
      expect(h.platform.faults.log.map((e) => e.ruleId)).toEqual([
        'late',
        'token',
        'drop',
        'token',
      ]);
    });

    it("should count the match of a delivery rule the first one superseded for that rule's nth", () => {
      h.platform.faults.add({ match: { times: 1 }, action: { kind: 'drop' } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'late-reply', ms: 5 } });
      expect(vendor(h, 1)).toBeUndefined(); // dropped; the late reply's first match
      expect(vendor(h, 2)).toBeUndefined(); // its second: it fires
      expect(h.platform.faults.counts).toMatchObject({ drop: 1, 'late-reply': 1 });
    });
  });

  describe('matching', () => {
    it('should match agent, protocol and message ids', () => {
      h.platform.faults.add({
        match: { agentId: 2, protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'drop' },
      });
      expect(vendor(h, 1, 1)).toBeDefined();
      expect(h.send(2, BASE, BaseMessageId.DISCOVER_SUB_VENDOR)).toBeDefined();
      expect(h.send(2, POWER, 0)).toBeDefined();
      expect(vendor(h, 1, 2)).toBeUndefined();
    });

    it('should fire on the n-th match only, and at most `times` times', () => {
      h.platform.faults.add({ match: { messageId: 3, nth: 3 }, action: { kind: 'drop' } });
      const got = [1, 2, 3, 4, 5].map((t) => vendor(h, t) !== undefined);
      expect(got).toEqual([true, true, false, true, true]);
      h.platform.faults.clear();
      h.platform.faults.add({ match: { times: 2 }, action: { kind: 'drop' } });
      expect([1, 2, 3].map((t) => vendor(h, t) !== undefined)).toEqual([false, false, true]);
    });

    it('should draw probabilities from the seed, reproducibly', () => {
      const run = (seed: number): boolean[] => {
        const p = new Harness(createDefaultPlatformConfig(), {
          seed,
          faults: [{ match: { probability: 0.3 }, action: { kind: 'drop' } }],
        });
        p.connect(1);
        const out = Array.from({ length: 200 }, (_, i) => vendor(p, i & 0x3ff) === undefined);
        p.close();
        return out;
      };
      const a = run(7);
      expect(run(7)).toEqual(a);
      expect(run(8)).not.toEqual(a);
      const dropped = a.filter(Boolean).length;
      expect(dropped).toBeGreaterThan(30);
      expect(dropped).toBeLessThan(90);
    });

    it('should fire always with probability 1 and never with 0', () => {
      h.platform.faults.add({ match: { probability: 0 }, action: { kind: 'drop' } });
      expect(vendor(h, 1)).toBeDefined();
      h.platform.faults.add({ match: { probability: 1 }, action: { kind: 'drop' } });
      expect(vendor(h, 1)).toBeUndefined();
    });
  });

  describe('P2A faults', () => {
    const asyncSet = (token: number): void => {
      h.send(1, CLOCK, ClockMessageId.RATE_SET, [1, 0, 300_000_000, 0], token);
    };

    it('should drop a delayed response', async () => {
      h.platform.faults.add({ match: { stage: 'delayed-response' }, action: { kind: 'drop' } });
      asyncSet(1);
      await h.clock.advance(10);
      expect(h.link(1).posted).toHaveLength(0);
      expect(h.platform.faults.log[0]).toMatchObject({
        stage: 'delayed-response',
        protocolId: CLOCK,
        messageId: ClockMessageId.RATE_SET,
        token: 1,
        agentId: 1,
      });
    });

    it('should post a delayed response late, twice, or with another token', async () => {
      h.platform.faults.add({
        match: { stage: 'delayed-response', nth: 1 },
        action: { kind: 'late-reply', ms: 100 },
      });
      h.platform.faults.add({
        match: { stage: 'delayed-response', nth: 2 },
        action: { kind: 'duplicate', delayMs: 1 },
      });
      h.platform.faults.add({
        match: { stage: 'delayed-response', nth: 3 },
        action: { kind: 'corrupt-token', token: 99 },
      });
      asyncSet(1);
      await h.clock.advance(50);
      expect(h.link(1).posted).toHaveLength(0);
      await h.clock.advance(60);
      asyncSet(2);
      await h.clock.advance(5);
      asyncSet(3);
      await h.clock.advance(5);
      expect(h.link(1).messages.map((m) => [m.type, m.token])).toEqual([
        [2, 1],
        [2, 2],
        [2, 2],
        [2, 99],
      ]);
    });

    it('hold: should post a delayed response or a notification only when released, or after maxHoldMs', async () => {
      h.platform.faults.add({
        match: { stage: 'delayed-response', times: 1 },
        action: { kind: 'hold', maxHoldMs: 1000 },
      });
      h.platform.faults.add({
        match: { stage: 'notification', times: 1 },
        action: { kind: 'hold', maxHoldMs: 20 },
      });
      asyncSet(1);
      await h.clock.advance(500);
      expect(h.link(1).posted).toHaveLength(0);
      expect(h.platform.releaseHeldResponses()).toBe(1);
      expect(h.link(1).messages.map((m) => [m.type, m.token])).toEqual([[2, 1]]);
      expect(h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]).status).toBe(0);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 2);
      await h.clock.advance(19);
      expect(h.link(1).posted).toHaveLength(1);
      await h.clock.advance(1);
      expect(h.link(1).messages.map((m) => m.type)).toEqual([2, 3]);
      expect(h.platform.releaseHeldResponses()).toBe(0);
      expect(h.platform.armedTimers).toBe(0);
    });

    it('duplicate: should not arm the copy once post disconnected the agent', async () => {
      h.platform.faults.add({ match: { stage: 'notification' }, action: { kind: 'duplicate' } });
      h.platform.faults.add({
        match: { stage: 'delayed-response' },
        action: { kind: 'duplicate', delayMs: 5 },
      });
      // A link that closes its agent when it refuses a post, as the peer port does.
      h.link(1).accept = () => {
        h.connection(1).disconnect();
        return false;
      };
      h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF], 2);
      expect(h.link(1).refused).toBe(1);
      expect(h.platform.connectedAgents).toEqual([2]);
      expect(h.platform.armedTimers).toBe(0);
      expect(h.platform.counters).toMatchObject({
        notificationsDropped: 1,
        cancelledOnDisconnect: 1,
      });

      h.connect(1).accept = () => {
        h.connection(1).disconnect();
        return false;
      };
      asyncSet(1);
      await h.clock.advance(1); // the delayed response: refused, the agent disconnected
      expect(h.link(1).refused).toBe(1);
      expect(h.platform.connectedAgents).toEqual([2]);
      expect(h.platform.armedTimers).toBe(0);
      expect(h.clock.armedTimers).toBe(0);
      expect(h.platform.counters).toMatchObject({
        delayedResponseRetries: 0,
        cancelledOnDisconnect: 3,
      });
    });

    it('should delay, drop or truncate notifications', async () => {
      h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]);
      h.platform.faults.add({
        match: { stage: 'notification', nth: 1 },
        action: { kind: 'delay', ms: 4 },
      });
      h.platform.faults.add({ match: { stage: 'notification', nth: 2 }, action: { kind: 'drop' } });
      h.platform.faults.add({
        match: { stage: 'notification', nth: 3 },
        action: { kind: 'truncate', length: 8 },
      });
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF]);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, 0]);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF]);
      expect(h.link(1).posted.map((b) => b.byteLength)).toEqual([8]);
      await h.clock.advance(4);
      expect(h.link(1).posted.map((b) => b.byteLength)).toEqual([8, 16]);
    });

    it('delay: should count a delayed notification whose post throws when its timer fires as dropped, never throwing', async () => {
      h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]);
      h.platform.faults.add({ match: { stage: 'notification' }, action: { kind: 'delay', ms: 4 } });
      expect(h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF]).status).toBe(0);
      expect(h.platform.armedTimers).toBe(1); // POWER_STATE_CHANGED, held by the rule
      h.link(1).accept = () => {
        throw new Error('the link failed');
      };
      await expect(h.clock.advance(4)).resolves.toBeUndefined();
      expect(h.link(1).posted).toHaveLength(0);
      expect(h.platform.counters).toMatchObject({
        notificationsPosted: 0,
        notificationsDropped: 1,
        cancelledOnDisconnect: 0,
      });
      expect(h.platform.armedTimers).toBe(0);
      expect(h.platform.connectedAgents).toEqual([1, 2]);
    });
  });

  describe('rules, log and counts', () => {
    it('should name rules, remove them, and refuse duplicate ids', () => {
      const f = h.platform.faults;
      expect(f.add({ action: { kind: 'drop' } })).toBe('rule-1');
      expect(f.add({ id: 'mine', action: { kind: 'drop' } })).toBe('mine');
      expect(() => f.add({ id: 'mine', action: { kind: 'drop' } })).toThrow(PlatformError);
      expect(f.rules.map((r) => r.id)).toEqual(['rule-1', 'mine']);
      expect(f.remove('rule-1')).toBe(true);
      expect(f.remove('rule-1')).toBe(false);
      f.clear();
      expect(f.rules).toEqual([]);
    });

    it('should give automatic ids that no rule has yet', () => {
      const f = h.platform.faults;
      expect(f.add({ id: 'rule-1', action: { kind: 'drop' } })).toBe('rule-1');
      expect(f.add({ id: 'rule-3', action: { kind: 'drop' } })).toBe('rule-3');
      expect(f.add({ action: { kind: 'drop' } })).toBe('rule-2');
      expect(f.add({ action: { kind: 'drop' } })).toBe('rule-4');
      expect(f.rules.map((r) => r.id)).toEqual(['rule-1', 'rule-3', 'rule-2', 'rule-4']);
    });

    it('should keep a copy of the rule: changing it after add changes nothing', () => {
      const payload = [1, 2, 3];
      const rule = { action: { kind: 'notification-storm' as const, count: 2, payload } };
      h.platform.faults.add(rule);
      payload.length = 200_000;
      payload.fill(7, 3);
      (rule.action as { count: number }).count = 100_000;
      expect(vendor(h, 1)).toBeDefined();
      expect(h.link(1).messages.map((m) => m.words)).toEqual([
        [1, 2, 3],
        [1, 2, 3],
      ]);
    });

    it('should log every injected fault with its time and message', async () => {
      await h.clock.advance(12);
      h.platform.faults.add({ id: 'd', action: { kind: 'drop' } });
      vendor(h, 44, 2);
      expect(h.platform.faults.log).toEqual([
        {
          seq: 1,
          atMs: 12,
          ruleId: 'd',
          kind: 'drop',
          stage: 'command',
          agentId: 2,
          protocolId: BASE,
          messageId: BaseMessageId.DISCOVER_VENDOR,
          token: 44,
        },
      ]);
    });

    it('should keep the last 10 000 log entries and count them all', () => {
      h.platform.faults.add({ action: { kind: 'corrupt-type', type: 0 } });
      for (let i = 0; i < 10_005; i++) vendor(h, i & 0x3ff);
      const log = h.platform.faults.log;
      expect(log).toHaveLength(10_000);
      expect(log[0]?.seq).toBe(6);
      expect(h.platform.faults.counts['corrupt-type']).toBe(10_005);
    });

    it.each<[string, FaultRule]>([
      ['stage', { match: { stage: 'later' as never }, action: { kind: 'drop' } }],
      ['agentId', { match: { agentId: -1 }, action: { kind: 'drop' } }],
      // Not one of the platform's agents (1 and 2): the rule could never fire.
      ['unknown agentId', { match: { agentId: 3 }, action: { kind: 'drop' } }],
      ['agentId 0', { match: { agentId: 0 }, action: { kind: 'drop' } }],
      ['protocolId', { match: { protocolId: 256 }, action: { kind: 'drop' } }],
      ['messageId', { match: { messageId: 1.5 }, action: { kind: 'drop' } }],
      ['nth', { match: { nth: 0 }, action: { kind: 'drop' } }],
      ['times', { match: { times: 0 }, action: { kind: 'drop' } }],
      ['probability', { match: { probability: 2 }, action: { kind: 'drop' } }],
      ['kind', { action: { kind: 'explode' } as never }],
      ['missing action', {} as never],
      ['delay ms', { action: { kind: 'delay', ms: -1 } }],
      ['late ms', { action: { kind: 'late-reply', ms: Number.NaN } }],
      ['duplicate delayMs', { action: { kind: 'duplicate', delayMs: -1 } }],
      ['reorder maxHoldMs', { action: { kind: 'reorder', maxHoldMs: Infinity } }],
      ['token', { action: { kind: 'corrupt-token', token: 1024 } }],
      ['unsolicited token', { action: { kind: 'unsolicited', token: -1 } }],
      ['type', { action: { kind: 'corrupt-type', type: 4 } }],
      ['protocol', { action: { kind: 'corrupt-protocol', protocolId: 300 } }],
      ['length', { action: { kind: 'truncate', length: -1 } }],
      ['bytes offset', { action: { kind: 'corrupt-bytes', offset: -1, bytes: [0] } }],
      ['count', { action: { kind: 'notification-storm', count: 0 } }],
      ['count missing', { action: { kind: 'notification-storm' } as never }],
      ['storm payload', { action: { kind: 'notification-storm', count: 1, payload: [-1] } }],
      ['storm protocol', { action: { kind: 'notification-storm', count: 1, protocolId: 999 } }],
      ['reorder on P2A', { match: { stage: 'notification' }, action: { kind: 'reorder' } }],
      ['hold maxHoldMs', { action: { kind: 'hold', maxHoldMs: -1 } }],
      [
        'storm on P2A',
        { match: { stage: 'delayed-response' }, action: { kind: 'notification-storm', count: 1 } },
      ],
    ])('should refuse an invalid rule (%s) with E_FAULT_RULE', (_, rule) => {
      expect(() => h.platform.faults.add(rule)).toThrow(
        expect.objectContaining({ code: 'E_FAULT_RULE' }) as Error,
      );
    });

    it.each<[string, unknown, string]>([
      [
        'repeat an unknown action kind',
        { action: { kind: 'late_reply', ms: 5 } },
        'action.kind must be one of delay, drop, duplicate, reorder, hold, late-reply, corrupt-token, corrupt-type, corrupt-protocol, corrupt-bytes, truncate, unsolicited, notification-storm, got "late_reply"',
      ],
      [
        'list the stages',
        { match: { stage: 'notifications' }, action: { kind: 'drop' } },
        'match.stage "notifications" is not a stage (command, delayed-response, notification)',
      ],
      ...['times', 'nth', 'agentId', 'protocolId', 'messageId', 'stage', 'probability'].map(
        (field): [string, unknown, string] => [
          `say that ${field} belongs under match`,
          { [field]: 1, action: { kind: 'drop' } },
          `${field} is not a known field (it belongs under match)`,
        ],
      ),
      // A field that belongs nowhere gets no hint.
      [
        'give no hint for a field of no match',
        { when: 1, action: { kind: 'drop' } },
        'when is not a known field',
      ],
    ])('should %s', (_what, rule, message) => {
      let error: unknown;
      try {
        h.platform.faults.add(rule as FaultRule);
      } catch (e) {
        error = e;
      }
      expect(PlatformError.is(error)).toBe(true);
      expect((error as PlatformError).message).toBe(`invalid fault rule: ${message}`);
      expect(h.platform.faults.rules).toEqual([]);
    });

    it("should name the platform's agents when a rule's agentId is none of them", () => {
      expect(() =>
        h.platform.faults.add({ match: { agentId: 7 }, action: { kind: 'drop' } }),
      ).toThrow(/match\.agentId 7 is not one of the platform's agents \(1, 2\)/);
      expect(h.platform.faults.rules).toEqual([]);
      // A free-standing injector, not given the agents, takes any id.
      const free = new FaultInjector(new VirtualClock());
      expect(free.add({ match: { agentId: 7 }, action: { kind: 'drop' } })).toBe('rule-1');
    });

    const MAX_MS = 2 ** 31 - 1;
    it.each<[string, unknown]>([
      ['a rule', null],
      ['a rule', 7],
      ['action', { action: null }],
      ['action', { match: {}, action: 'drop' }],
      ['match', { match: 3, action: { kind: 'drop' } }],
      ['id', { id: 5, action: { kind: 'drop' } }],
      ['action.ms', { action: { kind: 'delay', ms: MAX_MS + 1 } }],
      ['action.ms', { action: { kind: 'late-reply', ms: 2 ** 40 } }],
      ['action.ms', { action: { kind: 'late-reply' } }],
      ['action.delayMs', { action: { kind: 'duplicate', delayMs: MAX_MS + 1 } }],
      ['action.maxHoldMs', { action: { kind: 'reorder', maxHoldMs: MAX_MS + 1 } }],
      ['action.maxHoldMs', { action: { kind: 'hold', maxHoldMs: MAX_MS + 1 } }],
      ['action.offset', { action: { kind: 'corrupt-bytes', bytes: [1] } }],
      ['action.offset', { action: { kind: 'corrupt-bytes', offset: 1.5, bytes: [1] } }],
      ['action.bytes must be an array', { action: { kind: 'corrupt-bytes', offset: 0 } }],
      [
        'action.bytes must be an array',
        { action: { kind: 'corrupt-bytes', offset: 0, bytes: [] } },
      ],
      ['action.bytes[1]', { action: { kind: 'corrupt-bytes', offset: 0, bytes: [0, 256] } }],
      [
        'action.bytes[0]',
        { action: { kind: 'corrupt-bytes', offset: 0, bytes: new Array<number>(1) } },
      ],
      [
        'action.bytes must have at most 65536 bytes',
        { action: { kind: 'corrupt-bytes', offset: 0, bytes: new Array(70_000).fill(0) } },
      ],
      [
        'action.payload must have at most 16384 words',
        { action: { kind: 'notification-storm', count: 1, payload: new Array(200_000).fill(0) } },
      ],
      [
        'action.payload must be an array',
        { action: { kind: 'notification-storm', count: 1, payload: 5 } },
      ],
      // Holes (a sparse array) read as undefined.
      [
        'action.payload[0]',
        { action: { kind: 'notification-storm', count: 1, payload: new Array<number>(2) } },
      ],
      // A misspelt field would otherwise be ignored: the rule would fire on every command.
      [
        'match.messageID is not a known field',
        { match: { messageID: 3 }, action: { kind: 'drop' } },
      ],
      ['matches is not a known field', { matches: { messageId: 3 }, action: { kind: 'drop' } }],
      ['action.delayMs is not a known field', { action: { kind: 'delay', ms: 1, delayMs: 2 } }],
      ['action.type is not a known field', { action: { kind: 'corrupt-token', type: 2 } }],
      ['match must be an object', { match: [], action: { kind: 'drop' } }],
      // null would compare as 0 (never fire), a string would be coerced.
      [
        'match.probability must be a number',
        { match: { probability: null }, action: { kind: 'drop' } },
      ],
      [
        'match.probability must be a number',
        { match: { probability: '0.5' }, action: { kind: 'drop' } },
      ],
      ['match.probability', { match: { probability: Number.NaN }, action: { kind: 'drop' } }],
      ['match.probability', { match: { probability: Infinity }, action: { kind: 'drop' } }],
      ['match.probability', { match: { probability: -0.1 }, action: { kind: 'drop' } }],
    ])('should name %s when a rule is invalid, and keep no rule', (field, rule) => {
      expect(() => h.platform.faults.add(rule as FaultRule)).toThrow(
        expect.objectContaining({
          code: 'E_FAULT_RULE',
          message: expect.stringContaining(field) as string,
        }) as Error,
      );
      expect(h.platform.faults.rules).toEqual([]);
    });

    it('should refuse a misspelt match field with PlatformError, keeping the rules and matching nothing', () => {
      const f = new FaultInjector(new VirtualClock());
      f.add({ id: 'kept', match: { messageId: 5 }, action: { kind: 'drop' } });
      let error: unknown;
      try {
        f.add({ match: { messageID: 3 } as never, action: { kind: 'drop' } });
      } catch (e) {
        error = e;
      }
      expect(PlatformError.is(error)).toBe(true);
      expect((error as PlatformError).code).toBe('E_FAULT_RULE');
      expect((error as PlatformError).message).toMatch(/match\.messageID is not a known field/);
      expect(f.rules.map((r) => r.id)).toEqual(['kept']);
      const subject = { stage: 'command' as const, agentId: 1, protocolId: BASE, token: 1 };
      expect(f.select({ ...subject, messageId: 7 })).toEqual([]);
    });

    it('should accept every declared field, and a rule read back from rules', () => {
      const f = h.platform.faults;
      f.add({
        id: 'all',
        match: {
          stage: 'command',
          agentId: 1,
          protocolId: BASE,
          messageId: 3,
          nth: 1,
          probability: 0.5,
          times: 1,
        },
        action: {
          kind: 'notification-storm',
          count: 1,
          protocolId: BASE,
          messageId: 0,
          payload: [],
        },
      });
      f.add({ match: null as never, action: { kind: 'corrupt-protocol', protocolId: 1 } });
      const back = f.rules.map((r) => ({ ...r, id: `${r.id}-again` }));
      for (const r of back) f.add(r);
      expect(f.rules).toHaveLength(4);
    });

    it('should accept the largest delay and storm payload', () => {
      const f = h.platform.faults;
      f.add({ match: { messageId: 0x7f }, action: { kind: 'delay', ms: MAX_MS } });
      const payload = new Array<number>(16_384).fill(0xffffffff);
      f.add({
        match: { messageId: 0x7f },
        action: { kind: 'notification-storm', count: 1, payload },
      });
      expect(f.rules).toHaveLength(2);
    });
  });

  it('should cancel pending fault timers when the agent disconnects', () => {
    h.platform.faults.add({ action: { kind: 'late-reply', ms: 100 } });
    h.platform.faults.add({ action: { kind: 'unsolicited' } });
    vendor(h, 1);
    expect(h.platform.armedTimers).toBe(2);
    h.connection(1).disconnect();
    expect(h.platform.armedTimers).toBe(0);
    expect(h.clock.armedTimers).toBe(0);
    expect(h.platform.counters.cancelledOnDisconnect).toBe(2);
  });

  it('should count a held (reordered) response as cancelled when the agent disconnects', () => {
    h.platform.faults.add({ action: { kind: 'reorder' }, match: { times: 1 } });
    vendor(h, 1);
    expect(h.platform.counters.cancelledOnDisconnect).toBe(0);
    h.connection(1).disconnect();
    expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
    h.connection(1).disconnect(); // idempotent: nothing more to cancel
    expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
  });

  it('should work standalone on a clock', () => {
    const f = new FaultInjector(new VirtualClock());
    expect(f.counts.drop).toBe(0);
    expect(
      f.select({ stage: 'command', agentId: 1, protocolId: 0, messageId: 0, token: 0 }),
    ).toEqual([]);
  });
});

describe('FaultInjector.set (all or nothing)', () => {
  const old: FaultRule = { id: 'old', match: { protocolId: 0x10 }, action: { kind: 'drop' } };
  let faults: FaultInjector;
  beforeEach(() => {
    faults = new FaultInjector(new VirtualClock());
    faults.set([old]);
  });

  /** What `fn` threw (undefined when it returned). */
  function thrown(fn: () => void): unknown {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return undefined;
  }

  it('should replace every rule, in order, and remove them all with an empty list', () => {
    faults.set([{ action: { kind: 'drop' } }, { id: 'b', action: { kind: 'delay', ms: 5 } }]);
    expect(faults.rules.map((r) => [r.id, r.action.kind])).toEqual([
      ['rule-1', 'drop'],
      ['b', 'delay'],
    ]);
    faults.set([]);
    expect(faults.rules).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    [
      'an invalid rule after a valid one',
      [{ id: 'new', action: { kind: 'drop' } }, { action: { kind: 'nope' } }],
      'rules[1]: invalid fault rule',
    ],
    [
      'a rule that is not an object',
      [{ action: { kind: 'drop' } }, null],
      'rules[1]: invalid fault rule',
    ],
    [
      'two rules with one id',
      [
        { id: 'x', action: { kind: 'drop' } },
        { id: 'x', action: { kind: 'drop' } },
      ],
      'rules[1]: fault rule id x is already in use',
    ],
    ['a list that is not an array', { 0: { action: { kind: 'drop' } } }, 'rules must be an array'],
    // eslint-disable-next-line no-sparse-arrays
    ['a list with a hole', [{ action: { kind: 'drop' } }, , {}], 'rules[1]: a hole'],
  ])('should refuse %s and keep the rules as they were, counts included', (_, rules, message) => {
    const before = faults.rules;
    const error = thrown(() => {
      faults.set(rules as FaultRule[]);
    });
    expect(PlatformError.is(error)).toBe(true);
    expect(error).toMatchObject({ code: 'E_FAULT_RULE' });
    expect((error as Error).message).toContain(message);
    expect(faults.rules).toEqual(before);
    expect(faults.rules.map((r) => r.id)).toEqual(['old']);
  });

  it('should give an automatic id that skips the ids the list gives its own rules', () => {
    faults.set([{ action: { kind: 'drop' } }, { id: 'rule-1', action: { kind: 'drop' } }]);
    expect(faults.rules.map((r) => r.id)).toEqual(['rule-2', 'rule-1']);
  });

  it('should keep a copy, not the list or the rules it is given', () => {
    const action = { kind: 'delay' as const, ms: 5 };
    const rules = [{ action }];
    faults.set(rules);
    action.ms = 50;
    rules.length = 0;
    expect(faults.rules).toHaveLength(1);
    expect(faults.rules[0]?.action).toEqual({ kind: 'delay', ms: 5 });
  });
});
