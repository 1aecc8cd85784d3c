import {
  ScmiConfigError,
  ScmiMessageType,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SmtArea,
  SmtFaultInjector,
  SmtResponder,
  createSameThreadMailboxWire,
  createSharedMailboxWire,
  openSharedPlatformEnd,
  validateSmtFaultRule,
  type MailboxChannel,
  type SmtFaultRule,
} from '@scmi-ts/mailbox-transport';
import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { codeOf, defined } from './support/harness.js';

/** A platform that records what it is given and answers what the test says. */
class ScriptedPlatform implements ScmiPlatformPort {
  link: PlatformAgentLink | undefined;
  readonly requests: Uint8Array[] = [];
  answer: Uint8Array | undefined = undefined;
  /** `handle` throws (a platform breaking its contract) while set. */
  throws = false;
  disconnected = 0;
  /** Runs once, first thing in the next `handle` (an agent writing the area meanwhile). */
  meanwhile: (() => void) | undefined;

  connect(_agentId: number, link: PlatformAgentLink): PlatformConnection {
    this.link = link;
    return {
      agentId: 1,
      disconnect: () => {
        this.disconnected++;
      },
    };
  }

  handle(_agentId: number, _channelId: number, request: Uint8Array): Uint8Array | undefined {
    const meanwhile = this.meanwhile;
    this.meanwhile = undefined;
    meanwhile?.();
    this.requests.push(request.slice());
    if (this.throws) throw new Error('platform bug');
    return this.answer;
  }
}

/** A hand-driven agent end: writes the area itself and rings through the raw mailbox channel. */
function rawWire(options: { p2a?: number[] } = {}) {
  const clock = new VirtualClock();
  const mailbox = createSameThreadMailboxWire(clock, { a2p: [0], p2a: options.p2a ?? [0] });
  const platform = new ScriptedPlatform();
  const responder = new SmtResponder({ platform, agentId: 1, end: mailbox.platformEnd, clock });
  const { layout } = mailbox.wire;
  const area = (i: number): SmtArea =>
    new SmtArea(layout.memory, defined(layout.channels[i]).offset, layout.areaSize);
  let rings = 0;
  const chan: MailboxChannel = mailbox.controller.requestChannel(0, {
    knowsTxDone: true,
    rxCallback: () => {
      rings++;
    },
  });
  const request = (header: number, length = 4, flags = SMT_FLAG_INTR_ENABLED): void => {
    const a = area(0);
    a.setStatus(0);
    a.setFlags(flags);
    a.setLength(length);
    a.setHeader(header);
    chan.send();
    chan.clientTxDone();
  };
  return { clock, mailbox, platform, responder, area, request, rings: () => rings, chan };
}

/** Timers keeping the thread alive now (a shared doorbell's listener holds one). */
function keepAliveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

const HEADER = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 7);

function response(status: number, ...words: number[]): Uint8Array {
  const out = new Uint8Array(8 + 4 * words.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, HEADER, true);
  v.setInt32(4, status, true);
  words.forEach((w, i) => {
    v.setUint32(8 + 4 * i, w, true);
  });
  return out;
}

/** An 8-byte notification with message id `n` (Performance, protocol 0x13), for `link.post`. */
function note(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(
    0,
    buildHeader(n, ScmiMessageType.NOTIFICATION, 0x13, 0),
    true,
  );
  return out;
}

describe(SmtResponder, () => {
  describe('constructor', () => {
    it('should connect the agent with the link the wire allows', () => {
      const w = rawWire();
      expect(w.platform.link?.p2a).toBe(true);
      expect(w.platform.link?.maxMsgSize).toBe(128);
      expect(w.responder.agentId).toBe(1);
      w.responder.close();
      w.responder.close(); // idempotent
      expect([w.responder.closed, w.platform.disconnected]).toEqual([true, 1]);
      w.chan.free();
      const without = rawWire({ p2a: [] });
      expect(without.platform.link?.p2a).toBe(false);
      expect(without.platform.link?.post(new Uint8Array(8))).toBe(false);
      expect(without.responder.counters.p2aRefused).toBe(1);
      without.responder.close();
      without.chan.free();
    });

    it('should fail when the platform refuses the agent, or for a bad queue depth', () => {
      const clock = new VirtualClock();
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const { platformEnd } = createSameThreadMailboxWire(clock);
      expect(() => new SmtResponder({ platform, agentId: 9, end: platformEnd, clock })).toThrow();
      expect(
        () =>
          new SmtResponder({ platform, agentId: 1, end: platformEnd, clock, p2aQueueDepth: -1 }),
      ).toThrow(RangeError);
      expect(
        () =>
          new SmtResponder({
            platform,
            agentId: 1,
            end: platformEnd,
            clock,
            faults: [{ action: { kind: 'nope' } } as never],
          }),
      ).toThrow(ScmiConfigError);
      platform.close();
    });

    it('should close the connection and every doorbell it listened to when a later listen throws, then rethrow', () => {
      // Two SCMI channels on one mailbox channel (a hand-built layout): the P2A listen throws
      // after the A2P one started its thread-keeping wait.
      const { spec } = createSharedMailboxWire({ a2p: [0], p2a: [0] });
      const end = openSharedPlatformEnd(spec);
      const shared = {
        layout: {
          ...spec.layout,
          channels: spec.layout.channels.map((c) => ({ ...c, mailbox: 0 })),
        },
        remote: (index: number) => end.remote(index),
      };
      const platform = new ScriptedPlatform();
      const before = keepAliveTimers();
      try {
        expect(
          codeOf(
            () =>
              new SmtResponder({ platform, agentId: 1, end: shared, clock: new VirtualClock() }),
          ),
        ).toBe('E_DOORBELL_LISTENING');
        expect(platform.disconnected).toBe(1);
        expect(keepAliveTimers()).toBe(before); // no listener keeps the thread alive
        expect(end.remote(0).closed).toBe(true);
      } finally {
        end.remote(0).close();
      }
    });

    it('should leave alone a doorbell another responder listens to when it cannot listen there', async () => {
      const w = rawWire();
      const second = new ScriptedPlatform();
      expect(
        codeOf(
          () =>
            new SmtResponder({
              platform: second,
              agentId: 1,
              end: w.mailbox.platformEnd,
              clock: w.clock,
            }),
        ),
      ).toBe('E_DOORBELL_LISTENING');
      expect(second.disconnected).toBe(1);
      expect(w.mailbox.platformEnd.remote(0).closed).toBe(false);
      // The first responder still answers.
      w.platform.answer = response(0);
      w.request(HEADER);
      await w.clock.runTasks();
      expect(w.platform.requests).toHaveLength(1);
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
      w.responder.close();
      w.chan.free();
    });
  });

  describe('having a command in the A2P area', () => {
    it('should hand header and payload to the platform and write its response, then FREE, then ring', async () => {
      const w = rawWire();
      w.platform.answer = response(0, 0x20000);
      w.request(HEADER);
      await w.clock.runTasks();
      expect(w.platform.requests).toHaveLength(1);
      const a = w.area(0);
      expect(a.status()).toBe(SMT_CHANNEL_FREE);
      expect([a.length(), a.header(), a.payloadI32()]).toEqual([12, HEADER, 0]);
      expect(w.rings()).toBe(1);
      expect(w.responder.counters).toMatchObject({ requests: 1, responses: 1 });
      w.responder.close();
      w.chan.free();
    });

    it('should not ring back for a polling agent', async () => {
      const w = rawWire();
      w.platform.answer = response(0);
      w.request(HEADER, 4, 0);
      await w.clock.runTasks();
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
      expect(w.rings()).toBe(0);
      w.responder.close();
      w.chan.free();
    });

    it.each([0, 3, 1000])(
      'should answer CHANNEL_ERROR for a request length of %i, without calling the platform',
      async (length) => {
        const w = rawWire();
        w.request(HEADER, length);
        await w.clock.runTasks();
        expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
        // As SCP-firmware: PROTOCOL_ERROR after the header, for an agent that reads the status only.
        expect([w.area(0).header(), w.area(0).payloadI32(), w.area(0).length()]).toEqual([
          HEADER,
          ScmiStatus.PROTOCOL_ERROR,
          8,
        ]);
        expect(w.platform.requests).toHaveLength(0);
        expect(w.responder.counters.malformedRequests).toBe(1);
        expect(w.rings()).toBe(1);
        w.responder.close();
        w.chan.free();
      },
    );

    it('should answer CHANNEL_ERROR, without calling the platform, for a request whose status still has CHANNEL_ERROR (OP-TEE smt.c)', async () => {
      const w = rawWire();
      const a = w.area(0);
      a.setFlags(SMT_FLAG_INTR_ENABLED);
      a.setLength(4);
      a.setHeader(HEADER);
      a.setStatus(SMT_CHANNEL_ERROR); // not cleared by the agent
      w.chan.send();
      w.chan.clientTxDone();
      await w.clock.runTasks();
      expect(a.status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      expect(w.platform.requests).toHaveLength(0);
      expect(w.responder.counters).toMatchObject({ requests: 0, malformedRequests: 1 });
      expect(w.rings()).toBe(1);
      w.responder.close();
      w.chan.free();
    });

    it.each([
      ['with a reserved bit set', (HEADER | (1 << 28)) >>> 0],
      ['of the unknown type 1', buildHeader(0x3, 1, 0x10, 7)],
      ['of a delayed response', buildHeader(0x3, ScmiMessageType.DELAYED_RESPONSE, 0x10, 7)],
      ['of a notification', buildHeader(0x3, ScmiMessageType.NOTIFICATION, 0x10, 7)],
    ])(
      'should hand a request header %s to the platform, answer CHANNEL_ERROR without waiting for an answer, and serve the next command',
      async (_what, header) => {
        // The platform drops such a request (counted, BASE_ERROR_EVENT) and never answers it:
        // waiting for its answer would keep the area busy for good, every later command refused.
        const w = rawWire();
        w.request(header);
        await w.clock.runTasks();
        expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
        expect(w.platform.requests).toHaveLength(1);
        expect(w.responder.counters).toMatchObject({ requests: 0, malformedRequests: 1 });
        expect(w.rings()).toBe(1);
        w.platform.answer = response(0, 0x20000);
        w.request(HEADER);
        await w.clock.runTasks();
        expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
        expect([w.area(0).header(), w.area(0).payloadI32()]).toEqual([HEADER, 0]);
        expect(w.responder.counters).toMatchObject({
          requests: 1,
          responses: 1,
          ringsWhileBusy: 0,
        });
        w.responder.close();
        w.chan.free();
      },
    );

    it('should hand the platform the command as it checked it, not what the agent writes into the area meanwhile', async () => {
      // In worker mode the agent's thread can write the area while the platform handles it: a
      // header checked in the area and read again by the platform could turn into a non-command,
      // which the platform drops unanswered, and the channel would wait for that answer for good.
      const w = rawWire();
      w.platform.answer = response(0, 0x20000);
      w.platform.meanwhile = () => {
        w.area(0).setHeader((HEADER | (1 << 28)) >>> 0);
        w.area(0).writePayload(new Uint8Array([0xee, 0xee, 0xee, 0xee]), 0, 4);
      };
      w.request(HEADER, 8);
      await w.clock.runTasks();
      const got = defined(w.platform.requests[0]);
      expect(new DataView(got.buffer).getUint32(0, true)).toBe(HEADER);
      expect(got.byteLength).toBe(8);
      expect(got[4]).not.toBe(0xee);
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
      expect(w.responder.counters).toMatchObject({ requests: 1, responses: 1 });
      w.responder.close();
      w.chan.free();
    });

    it('should give the area back with CHANNEL_ERROR when platform.handle throws, count it, drop a later response to that command, and serve the next', async () => {
      const w = rawWire();
      w.platform.throws = true;
      w.request(HEADER, 8); // CLOCK_RATE_GET-like: a payload word of 0
      await w.clock.runTasks(); // nothing thrown out of the doorbell callback
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      // Not the request's payload word 0 (SUCCESS) where the status goes: PROTOCOL_ERROR, length 8.
      expect([w.area(0).payloadI32(), w.area(0).length()]).toEqual([ScmiStatus.PROTOCOL_ERROR, 8]);
      expect(w.rings()).toBe(1);
      expect(w.responder.counters).toMatchObject({
        requests: 1,
        responses: 0,
        platformErrors: 1,
        malformedRequests: 0,
      });
      // The next command (token 8) waits for a later answer; a response to the one whose handle
      // threw (token 7, the platform naming no command) is a stray, not the pending one's answer.
      w.platform.throws = false;
      const next = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 8);
      w.request(next);
      await w.clock.runTasks();
      w.platform.link?.respond(0, response(0, 1));
      expect(w.responder.counters.strayResponsesDropped).toBe(1);
      expect(w.area(0).status()).toBe(0);
      const answer = response(0, 0x20000);
      new DataView(answer.buffer).setUint32(0, next, true);
      w.platform.link?.respond(0, answer);
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
      expect(w.responder.counters).toMatchObject({
        requests: 2,
        responses: 1,
        lateResponses: 1,
        ringsWhileBusy: 0,
      });
      // A request that is not a command, whose handle throws: given back with CHANNEL_ERROR,
      // counted once, as a platform error (not as malformed too).
      w.platform.throws = true;
      w.request((HEADER | (1 << 28)) >>> 0);
      await w.clock.runTasks();
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      expect(w.responder.counters).toMatchObject({ platformErrors: 2, malformedRequests: 0 });
      w.responder.close();
      w.chan.free();
    });

    it('should answer PROTOCOL_ERROR, with the header, for a response larger than the area (not a cut success)', async () => {
      const w = rawWire(); // 156-byte areas: 132 bytes of message
      w.platform.answer = response(0, ...new Array<number>(31).fill(7)); // 8 + 124 = 132: fits
      w.request(HEADER);
      await w.clock.runTasks();
      expect([w.area(0).length(), w.area(0).payloadI32()]).toEqual([132, 0]);
      w.platform.answer = response(0, ...new Array<number>(32).fill(7)); // 136: one word too many
      w.request(HEADER);
      await w.clock.runTasks();
      const a = w.area(0);
      expect([a.status(), a.length(), a.header(), a.payloadI32()]).toEqual([
        SMT_CHANNEL_FREE,
        8,
        HEADER,
        -10, // PROTOCOL_ERROR
      ]);
      expect(w.responder.counters).toMatchObject({ responses: 2, responsesTooLarge: 1 });
      w.responder.close();
      w.chan.free();
    });

    it('should count a doorbell with the area free, and one while the command is pending', async () => {
      const w = rawWire();
      w.chan.send();
      w.chan.clientTxDone();
      await w.clock.runTasks();
      expect(w.responder.counters.ringsWhileFree).toBe(1);
      w.request(HEADER); // the platform keeps it (no answer now)
      await w.clock.runTasks();
      w.chan.send();
      w.chan.clientTxDone();
      await w.clock.runTasks();
      expect(w.responder.counters.ringsWhileBusy).toBe(1);
      // The late response completes the pending command.
      w.platform.link?.respond(0, response(0, 1));
      expect(w.responder.counters.lateResponses).toBe(1);
      expect(w.area(0).status()).toBe(SMT_CHANNEL_FREE);
      w.responder.close();
      w.chan.free();
    });
  });

  describe('link.respond with nothing pending', () => {
    it('should drop a stray response while the agent owns the area (CHANNEL_FREE set), writing and ringing nothing', async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      const a = w.area(0);
      // As the agent's last command left it: FREE, INTR_ENABLED, its header and length.
      a.setFlags(SMT_FLAG_INTR_ENABLED);
      a.setLength(4);
      a.setHeader(HEADER);
      const before = a.bytes.slice();
      link.respond(0, response(0, 0xabc)); // a duplicate, unsolicited or late reply
      expect(w.responder.counters.strayResponsesDropped).toBe(1);
      expect(a.bytes).toEqual(before);
      await w.clock.runTasks();
      expect(w.rings()).toBe(0);
      w.responder.close();
      w.chan.free();
    });

    it.each([
      ['token', buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 6)],
      ['protocol', buildHeader(0x3, ScmiMessageType.COMMAND, 0x11, 7)],
      ['message', buildHeader(0x4, ScmiMessageType.COMMAND, 0x10, 7)],
    ])(
      'should drop a copy of the response to a command answered before (another %s) while one is pending, and answer the pending one with its own',
      async (_what, earlier) => {
        const w = rawWire();
        const link = defined(w.platform.link);
        w.platform.answer = response(0); // the earlier command is answered at once
        w.request(earlier);
        await w.clock.runTasks();
        w.platform.answer = undefined; // the platform keeps the next one
        w.request(HEADER);
        await w.clock.runTasks();
        const copy = response(0, 0xdead);
        new DataView(copy.buffer).setUint32(0, earlier, true); // a duplicate of the earlier one
        link.respond(0, copy);
        expect(w.responder.counters).toMatchObject({ strayResponsesDropped: 1, responses: 1 });
        expect(w.area(0).status()).toBe(0); // still the platform's: nothing written
        link.respond(0, response(0, 1));
        expect(w.responder.counters).toMatchObject({ lateResponses: 1, responses: 2 });
        expect([w.area(0).status(), w.area(0).header(), w.area(0).payloadI32()]).toEqual([
          SMT_CHANNEL_FREE,
          HEADER,
          0,
        ]);
        w.responder.close();
        w.chan.free();
      },
    );

    it('should drop a late copy of a response sent rewritten (a duplicate of a corrupted answer) while another command is pending', async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      const earlier = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 6);
      const rewritten = (earlier ^ (0x200 << 18)) >>> 0; // as corrupt-token rewrites it
      const answer = response(0);
      new DataView(answer.buffer).setUint32(0, rewritten, true);
      w.platform.answer = answer; // the earlier command is answered at once, rewritten
      w.request(earlier);
      await w.clock.runTasks();
      w.platform.answer = undefined;
      w.request(HEADER); // pending
      await w.clock.runTasks();
      link.respond(0, answer.slice()); // the copy of the rewritten response, late
      expect(w.responder.counters).toMatchObject({ strayResponsesDropped: 1, responses: 1 });
      expect(w.area(0).status()).toBe(0);
      link.respond(0, response(0, 1));
      expect([w.area(0).status(), w.area(0).header()]).toEqual([SMT_CHANNEL_FREE, HEADER]);
      w.responder.close();
      w.chan.free();
    });

    it("should write a late response a fault rule rewrote as the pending command's answer, for the agent to reject, and give the area back", async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      w.request(HEADER); // the platform keeps it
      await w.clock.runTasks();
      const corrupted = response(0, 1);
      const rewritten = (HEADER ^ (0x200 << 18)) >>> 0; // corrupt-token's default rewrite
      new DataView(corrupted.buffer).setUint32(0, rewritten, true);
      link.respond(0, corrupted);
      expect(w.responder.counters).toMatchObject({ lateResponses: 1, strayResponsesDropped: 0 });
      expect([w.area(0).status(), w.area(0).header()]).toEqual([SMT_CHANNEL_FREE, rewritten]);
      w.responder.close();
      w.chan.free();
    });

    it("should write a response the platform names as the pending command's answer even when a rule rewrote its header to an earlier command's", async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      const earlier = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 6);
      w.platform.answer = response(0); // answered at once: remembered
      w.request(earlier);
      await w.clock.runTasks();
      w.platform.answer = undefined;
      w.request(HEADER); // pending
      await w.clock.runTasks();
      const corrupted = response(0, 1);
      new DataView(corrupted.buffer).setUint32(0, earlier, true); // corrupt-token with token 6
      // Matched by its header alone it is a copy of the earlier answer (dropped, the area busy for
      // good); the command the platform names says it is the pending one's.
      link.respond(0, corrupted, HEADER);
      expect(w.responder.counters).toMatchObject({ lateResponses: 1, strayResponsesDropped: 0 });
      expect([w.area(0).status(), w.area(0).header()]).toEqual([SMT_CHANNEL_FREE, earlier]);
      w.responder.close();
      w.chan.free();
    });

    it("should drop a response the platform names for another command than the pending one, even with the pending one's header", async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      w.request(HEADER); // pending
      await w.clock.runTasks();
      const earlier = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 6);
      link.respond(0, response(0, 1), earlier); // e.g. a rule rewrote the earlier one's to HEADER
      expect(w.responder.counters).toMatchObject({ lateResponses: 0, strayResponsesDropped: 1 });
      expect(w.area(0).status()).toBe(0); // still the platform's
      link.respond(0, response(0, 1), HEADER);
      expect(w.responder.counters).toMatchObject({ lateResponses: 1 });
      expect([w.area(0).status(), w.area(0).header()]).toEqual([SMT_CHANNEL_FREE, HEADER]);
      w.responder.close();
      w.chan.free();
    });

    it('should drop a stray response that would overwrite a request, or for no channel', () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      w.area(0).setStatus(0); // the agent wrote a request, not rung yet
      link.respond(0, response(0));
      link.respond(5, response(0)); // no such channel
      expect(w.responder.counters.strayResponsesDropped).toBe(2);
      w.responder.close();
      link.respond(0, response(0)); // after close: ignored
      expect(w.responder.counters.strayResponsesDropped).toBe(2);
      w.chan.free();
    });
  });

  describe('having an A2P spurious-doorbell fault', () => {
    it('should drop the delayed command, counted, when an unsolicited response answered it meanwhile, never handing it to the platform after the next one', async () => {
      const w = rawWire();
      const link = defined(w.platform.link);
      w.responder.faults.add({ match: { times: 1 }, action: { kind: 'spurious-doorbell', ms: 5 } });
      const next = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 8);
      w.request(HEADER); // C1, token 7: rung at once with the area still the platform's
      await w.clock.runTasks();
      expect([w.rings(), w.area(0).status(), w.platform.requests.length]).toEqual([1, 0, 0]);
      link.respond(0, response(0, 1)); // unsolicited: it answers the pending command, C1
      await w.clock.runTasks();
      expect([w.rings(), w.area(0).status(), w.area(0).header()]).toEqual([
        2,
        SMT_CHANNEL_FREE,
        HEADER,
      ]);
      w.request(next); // C2, token 8: the platform keeps it, and would answer C1 at once
      await w.clock.runTasks();
      w.platform.answer = response(0, 0xc1);
      await w.clock.advance(10);
      // The platform saw C2 only; C2 is still pending: the area is the platform's, holding C2.
      expect(w.platform.requests.map((r) => new DataView(r.buffer).getUint32(0, true))).toEqual([
        next,
      ]);
      expect([w.area(0).status(), w.area(0).header(), w.rings()]).toEqual([0, next, 2]);
      expect(w.responder.counters).toEqual({
        requests: 2,
        responses: 1,
        lateResponses: 1,
        strayResponsesDropped: 1, // the answer the fault was to give C1 later
        malformedRequests: 0,
        platformErrors: 0,
        responsesTooLarge: 0,
        ringsWhileFree: 0,
        ringsWhileBusy: 0,
        p2aPosted: 0,
        p2aRefused: 0,
        p2aQueued: 0,
      });
      expect(w.responder.armedTimers).toBe(0);
      const answer = response(0, 2);
      new DataView(answer.buffer).setUint32(0, next, true);
      link.respond(0, answer, next); // C2's own answer, later
      await w.clock.runTasks();
      expect([w.area(0).status(), w.area(0).header(), w.area(0).payloadI32(), w.rings()]).toEqual([
        SMT_CHANNEL_FREE,
        next,
        0,
        3,
      ]);
      expect(w.responder.counters).toMatchObject({ responses: 2, lateResponses: 2 });
      w.responder.close();
      w.chan.free();
    });

    it('should hand the delayed command to the platform once it is still pending, answering it then', async () => {
      const w = rawWire();
      w.responder.faults.add({ match: { times: 1 }, action: { kind: 'spurious-doorbell', ms: 5 } });
      w.platform.answer = response(0, 1);
      w.request(HEADER);
      await w.clock.runTasks();
      await w.clock.advance(4);
      expect([w.platform.requests.length, w.area(0).status(), w.rings()]).toEqual([0, 0, 1]);
      await w.clock.advance(1);
      await w.clock.runTasks();
      expect([
        w.platform.requests.length,
        w.area(0).status(),
        w.area(0).header(),
        w.rings(),
      ]).toEqual([1, SMT_CHANNEL_FREE, HEADER, 2]);
      expect(w.responder.counters).toMatchObject({
        requests: 1,
        responses: 1,
        lateResponses: 0,
        strayResponsesDropped: 0,
      });
      w.responder.close();
      w.chan.free();
    });
  });

  describe('link.post', () => {
    it('should write into a free P2A area, queue while busy, refuse when the queue is full', async () => {
      const clock = new VirtualClock();
      const mailbox = createSameThreadMailboxWire(clock);
      const platform = new ScriptedPlatform();
      const responder = new SmtResponder({
        platform,
        agentId: 1,
        end: mailbox.platformEnd,
        clock,
        p2aQueueDepth: 2,
      });
      const { layout } = mailbox.wire;
      const p2a = new SmtArea(layout.memory, defined(layout.channels[1]).offset, layout.areaSize);
      let rings = 0;
      const chan = mailbox.controller.requestChannel(1, {
        knowsTxDone: true,
        rxCallback: () => {
          rings++;
        },
      });
      const link = defined(platform.link);
      expect([
        link.post(note(1)),
        link.post(note(2)),
        link.post(note(3)),
        link.post(note(4)),
      ]).toEqual([true, true, true, false]);
      expect(responder.counters).toMatchObject({ p2aPosted: 1, p2aQueued: 2, p2aRefused: 1 });
      expect(p2a.status()).toBe(0);
      expect(p2a.flags()).toBe(SMT_FLAG_INTR_ENABLED);
      await clock.runTasks();
      expect(rings).toBe(1);
      // The agent frees the area and rings back: the next one is written.
      for (const expected of [2, 3]) {
        p2a.setStatus(SMT_CHANNEL_FREE);
        chan.send();
        chan.clientTxDone();
        await clock.runTasks();
        expect(p2a.header() & 0xff).toBe(expected);
      }
      expect(responder.counters).toMatchObject({ p2aPosted: 3, p2aQueued: 0 });
      // One larger than the area is refused rather than cut.
      expect(link.post(new Uint8Array(133))).toBe(false);
      expect(link.post(new Uint8Array(132))).toBe(true);
      expect(responder.counters).toMatchObject({ p2aRefused: 2, p2aQueued: 1 });
      responder.close();
      expect(link.post(note(5))).toBe(false);
      chan.free();
    });

    it('should keep posts in order behind a message a spurious-doorbell fault holds back, queued within the depth', async () => {
      const clock = new VirtualClock();
      const mailbox = createSameThreadMailboxWire(clock);
      const platform = new ScriptedPlatform();
      const responder = new SmtResponder({
        platform,
        agentId: 1,
        end: mailbox.platformEnd,
        clock,
        p2aQueueDepth: 1,
        faults: [
          { match: { direction: 'p2a', times: 1 }, action: { kind: 'spurious-doorbell', ms: 5 } },
        ],
      });
      const { layout } = mailbox.wire;
      const p2a = new SmtArea(layout.memory, defined(layout.channels[1]).offset, layout.areaSize);
      const arrived: number[] = [];
      let rings = 0;
      const chan = mailbox.controller.requestChannel(1, {
        knowsTxDone: true,
        rxCallback: () => {
          rings++;
          if (!p2a.isFree()) arrived.push(p2a.header() & 0xff);
        },
      });
      // The agent reads a posted message, frees the area and rings back.
      const acknowledge = async (): Promise<void> => {
        p2a.setStatus(SMT_CHANNEL_FREE);
        chan.send();
        chan.clientTxDone();
        await clock.runTasks();
      };
      const link = defined(platform.link);
      // 1 is held back (rung for with nothing posted); 2 queues behind it, though the area is
      // free; 3 finds the queue full.
      expect([link.post(note(1)), link.post(note(2)), link.post(note(3))]).toEqual([
        true,
        true,
        false,
      ]);
      expect(responder.counters).toMatchObject({ p2aPosted: 0, p2aQueued: 2, p2aRefused: 1 });
      expect(p2a.isFree()).toBe(true);
      await clock.runTasks();
      expect([rings, arrived]).toEqual([1, []]); // the spurious doorbell
      await acknowledge(); // an acknowledgement with nothing posted writes nothing ahead of 1
      expect([p2a.isFree(), responder.counters.p2aPosted]).toEqual([true, 0]);
      await clock.advance(5);
      expect(responder.counters).toMatchObject({ p2aPosted: 1, p2aQueued: 1 });
      await acknowledge();
      expect(arrived).toEqual([1, 2]);
      expect(responder.counters).toMatchObject({ p2aPosted: 2, p2aQueued: 0, p2aRefused: 1 });
      expect([rings, responder.armedTimers, responder.faults.counts['spurious-doorbell']]).toEqual([
        3, 0, 1,
      ]);
      responder.close();
      chan.free();
    });

    it('should bound what waits by the depth when the spurious-doorbell fault fires on every post, one held message ahead of the queue', async () => {
      const clock = new VirtualClock();
      const mailbox = createSameThreadMailboxWire(clock);
      const platform = new ScriptedPlatform();
      const responder = new SmtResponder({
        platform,
        agentId: 1,
        end: mailbox.platformEnd,
        clock,
        p2aQueueDepth: 1,
        faults: [{ match: { direction: 'p2a' }, action: { kind: 'spurious-doorbell', ms: 5 } }],
      });
      const { layout } = mailbox.wire;
      const p2a = new SmtArea(layout.memory, defined(layout.channels[1]).offset, layout.areaSize);
      const arrived: number[] = [];
      let rings = 0;
      const chan = mailbox.controller.requestChannel(1, {
        knowsTxDone: true,
        rxCallback: () => {
          rings++;
          if (!p2a.isFree()) arrived.push(p2a.header() & 0xff);
        },
      });
      const link = defined(platform.link);
      // The area stays free while 1 is held: without the hold, each post would find it free and
      // be accepted (each held by the fault in turn), however many.
      expect([1, 2, 3, 4].map((n) => link.post(note(n)))).toEqual([true, true, false, false]);
      expect(responder.counters).toMatchObject({ p2aPosted: 0, p2aQueued: 2, p2aRefused: 2 });
      await clock.advance(5); // 1 written
      expect(responder.counters).toMatchObject({ p2aPosted: 1, p2aQueued: 1 });
      p2a.setStatus(SMT_CHANNEL_FREE);
      chan.send();
      chan.clientTxDone();
      await clock.runTasks(); // 2, the queue's head, is held in turn: rung for, not written
      expect([p2a.isFree(), responder.counters.p2aQueued]).toEqual([true, 1]);
      expect(link.post(note(5))).toBe(true); // queued behind 2
      await clock.advance(5);
      p2a.setStatus(SMT_CHANNEL_FREE);
      chan.send();
      chan.clientTxDone();
      await clock.advance(5);
      expect(arrived).toEqual([1, 2, 5]);
      expect(responder.counters).toMatchObject({ p2aPosted: 3, p2aQueued: 0, p2aRefused: 2 });
      expect([rings, responder.faults.counts['spurious-doorbell']]).toEqual([6, 3]);
      responder.close();
      chan.free();
    });

    it.each([
      ['acknowledgement', {}],
      ['CHANNEL_FREE poll (3 mboxes)', { nodes: [{ shmem: [0, 0], mboxes: 3 }] }],
    ] as const)(
      'should keep a held message whose delay ends with the area taken as the head even at depth 0, refusing later posts, and write it once freed (%s)',
      async (_how, wireOptions) => {
        const clock = new VirtualClock();
        const mailbox = createSameThreadMailboxWire(clock, wireOptions);
        const platform = new ScriptedPlatform();
        const responder = new SmtResponder({
          platform,
          agentId: 1,
          end: mailbox.platformEnd,
          clock,
          p2aQueueDepth: 0,
          faults: [
            { match: { direction: 'p2a', times: 1 }, action: { kind: 'spurious-doorbell', ms: 5 } },
          ],
        });
        const { layout } = mailbox.wire;
        const spec = defined(layout.channels.find((c) => c.direction === 'p2a'));
        const p2a = new SmtArea(layout.memory, spec.offset, layout.areaSize);
        const chan = mailbox.controller.requestChannel(spec.mailbox, {
          knowsTxDone: true,
          rxCallback: () => {},
        });
        // Bidirectional here: the acknowledgement rings the P2A channel itself.
        const ack = spec.ackMailbox === 'none' ? undefined : chan;
        const link = defined(platform.link);
        expect(link.post(note(1))).toBe(true); // held back
        expect(link.post(note(2))).toBe(false); // the held message has the area: depth 0
        p2a.setStatus(0); // a hostile agent takes the area while 1 is held
        await clock.advance(5);
        expect(responder.counters).toMatchObject({ p2aPosted: 0, p2aQueued: 1, p2aRefused: 1 });
        expect(p2a.header()).toBe(0); // nothing written over the area
        expect(link.post(note(3))).toBe(false);
        await clock.advance(5);
        expect(responder.counters).toMatchObject({ p2aPosted: 0, p2aQueued: 1, p2aRefused: 2 });
        p2a.setStatus(SMT_CHANNEL_FREE); // freed: rung back, or seen by the poll
        if (ack !== undefined) {
          ack.send();
          ack.clientTxDone();
        }
        await clock.advance(1);
        expect([p2a.status(), p2a.header() & 0xff]).toEqual([0, 1]);
        expect(responder.counters).toMatchObject({ p2aPosted: 1, p2aQueued: 0, p2aRefused: 2 });
        expect(responder.armedTimers).toBe(0);
        responder.close();
        chan.free();
      },
    );

    it('should write the queue head at the next post when the agent freed the area without ringing back', async () => {
      const clock = new VirtualClock();
      const mailbox = createSameThreadMailboxWire(clock);
      const platform = new ScriptedPlatform();
      const responder = new SmtResponder({
        platform,
        agentId: 1,
        end: mailbox.platformEnd,
        clock,
        p2aQueueDepth: 2,
      });
      const { layout } = mailbox.wire;
      const p2a = new SmtArea(layout.memory, defined(layout.channels[1]).offset, layout.areaSize);
      const chan = mailbox.controller.requestChannel(1, {
        knowsTxDone: true,
        rxCallback: () => {},
      });
      const link = defined(platform.link);
      expect([link.post(note(1)), link.post(note(2)), link.post(note(3))]).toEqual([
        true,
        true,
        true,
      ]);
      expect(p2a.flags()).toBe(SMT_FLAG_INTR_ENABLED);
      // The agent reads the first and frees the area, but never rings back: nothing moves.
      p2a.setStatus(SMT_CHANNEL_FREE);
      await clock.advance(10);
      expect(responder.counters).toMatchObject({ p2aPosted: 1, p2aQueued: 2 });
      // The next post finds the area free: the queue's head is written first, in order, and the
      // new post waits behind the rest.
      expect(link.post(note(4))).toBe(true);
      expect(p2a.status()).toBe(0);
      expect(p2a.header() & 0xff).toBe(2);
      expect(responder.counters).toMatchObject({ p2aPosted: 2, p2aQueued: 2, p2aRefused: 0 });
      // Area busy, queue full again: refused, nothing written over the unread message.
      expect(link.post(note(5))).toBe(false);
      expect(p2a.header() & 0xff).toBe(2);
      for (const expected of [3, 4]) {
        p2a.setStatus(SMT_CHANNEL_FREE);
        chan.send();
        chan.clientTxDone();
        await clock.runTasks();
        expect(p2a.header() & 0xff).toBe(expected);
      }
      expect(responder.counters).toMatchObject({ p2aPosted: 4, p2aQueued: 0, p2aRefused: 1 });
      responder.close();
      chan.free();
    });
  });
});

describe(SmtFaultInjector, () => {
  it('should fire the first matching rule, honouring nth and times, and log it', () => {
    const faults = new SmtFaultInjector();
    const a = faults.add({ match: { nth: 2 }, action: { kind: 'no-free' } });
    faults.add({ id: 'twice', match: { times: 2 }, action: { kind: 'stuck-busy', ms: 1 } });
    faults.add({
      match: { direction: 'p2a', channelId: 0 },
      action: { kind: 'spurious-doorbell' },
    });
    expect(() => faults.add({ id: 'twice', action: { kind: 'no-free' } })).toThrow(ScmiConfigError);
    const kinds = [1, 2, 3, 4].map((n) => faults.select('a2p', 0, HEADER + n)?.kind);
    expect(kinds).toEqual(['stuck-busy', 'no-free', 'stuck-busy', undefined]);
    expect(faults.select('p2a', 1, 0)).toBeUndefined();
    expect(faults.select('p2a', 0, 0)?.kind).toBe('spurious-doorbell');
    expect(faults.counts).toMatchObject({ 'no-free': 1, 'stuck-busy': 2, 'spurious-doorbell': 1 });
    expect(faults.log.map((e) => [e.seq, e.ruleId, e.direction])).toEqual([
      [1, 'twice', 'a2p'],
      [2, a, 'a2p'],
      [3, 'twice', 'a2p'],
      [4, 'smt-rule-2', 'p2a'],
    ]);
    expect(faults.log[1]?.token).toBe(7);
    expect(faults.rules.map((r) => r.id)).toEqual([a, 'twice', 'smt-rule-2']);
    expect(faults.remove('twice')).toBe(true);
    expect(faults.remove('twice')).toBe(false);
    faults.clear();
    expect(faults.rules).toEqual([]);
  });

  it('should keep a copy of each rule: changing it afterwards, or what rules returns, changes nothing', () => {
    const faults = new SmtFaultInjector();
    const rule = { match: { nth: 1 }, action: { kind: 'hostile-length' as const, length: 8 } };
    faults.add(rule);
    rule.match.nth = -5; // add() would refuse it
    (rule.action as { kind: string }).kind = 'bogus'; // add() would refuse it
    const listed = defined(faults.rules[0]);
    (listed.match as { nth: number }).nth = 0;
    (listed.action as { length: number }).length = -1;
    expect(faults.rules).toEqual([
      { id: 'smt-rule-1', match: { nth: 1 }, action: { kind: 'hostile-length', length: 8 } },
    ]);
    expect(faults.select('a2p', 0, HEADER)).toEqual({ kind: 'hostile-length', length: 8 });
  });

  it('should change nothing when it refuses a rule', () => {
    const faults = new SmtFaultInjector();
    faults.add({ id: 'keep', action: { kind: 'no-free' } });
    const bad = { match: { nth: 0 }, action: { kind: 'no-free' as const } };
    expect(() => faults.add(bad)).toThrow(ScmiConfigError);
    expect(() => faults.add({ id: 'keep', action: { kind: 'early-free' } })).toThrow(
      ScmiConfigError,
    );
    expect(faults.rules).toEqual([{ id: 'keep', action: { kind: 'no-free' } }]);
    expect(bad).toEqual({ match: { nth: 0 }, action: { kind: 'no-free' } });
  });

  it('should replace every rule with set, all or nothing: a refused rule, named rules[i], leaves the rules as they were', () => {
    const faults = new SmtFaultInjector();
    faults.add({ id: 'keep', match: { times: 2 }, action: { kind: 'no-free' } });
    const before = faults.rules;
    const valid: SmtFaultRule = { action: { kind: 'early-free' } };
    const cases: [unknown, string][] = [
      [[valid, { match: { nth: 0 }, action: { kind: 'no-free' } }], 'rules[1].match.nth'],
      [[valid, valid, { action: { kind: 'bogus' } }], 'rules[2].action.kind'],
      [
        [valid, { match: { direction: 'p2a' }, action: { kind: 'no-free' } }],
        'rules[1].action.kind',
      ],
      [
        [
          { id: 'x', ...valid },
          { id: 'x', action: { kind: 'no-free' } },
        ],
        'rules[1].id',
      ],
      [[valid, undefined], 'rules[1]'],
      ['not a list', 'rules'],
    ];
    for (const [rules, field] of cases) {
      expect(fieldOfConfigError(() => faults.set(rules as SmtFaultRule[]))).toBe(field);
      expect(faults.rules).toEqual(before);
    }
    // The kept rule still fires as it did (its `times` count too), and nothing else does.
    expect([1, 2, 3].map(() => faults.select('a2p', 0, HEADER)?.kind)).toEqual([
      'no-free',
      'no-free',
      undefined,
    ]);
    // The ids of the rules replaced are free again; the automatic numbering did not move.
    faults.set([valid, { id: 'keep', action: { kind: 'stuck-busy' } }]);
    expect(faults.rules).toEqual([
      { id: 'smt-rule-1', action: { kind: 'early-free' } },
      { id: 'keep', action: { kind: 'stuck-busy' } },
    ]);
    expect(faults.select('a2p', 0, HEADER)?.kind).toBe('early-free');
    faults.set([]);
    expect(faults.rules).toEqual([]);
    expect(faults.counts).toMatchObject({ 'no-free': 2, 'early-free': 1, 'stuck-busy': 0 });
  });

  it('should give an automatic id no rule has, skipping one a caller gave its own rule', () => {
    const faults = new SmtFaultInjector();
    expect(faults.add({ id: 'smt-rule-1', action: { kind: 'no-free' } })).toBe('smt-rule-1');
    expect(faults.add({ action: { kind: 'early-free' } })).toBe('smt-rule-2');
    expect(faults.rules.map((r) => r.id)).toEqual(['smt-rule-1', 'smt-rule-2']);
  });

  it('should match on protocol and message ids', () => {
    const faults = new SmtFaultInjector();
    faults.add({ match: { protocolId: 0x10, messageId: 0x3 }, action: { kind: 'no-free' } });
    expect(faults.select('a2p', 0, buildHeader(0x3, 0, 0x14, 1))).toBeUndefined();
    expect(faults.select('a2p', 0, buildHeader(0x4, 0, 0x10, 1))).toBeUndefined();
    expect(faults.select('a2p', 0, HEADER)?.kind).toBe('no-free');
  });
});

describe(validateSmtFaultRule, () => {
  const field = (rule: unknown): string | undefined => {
    try {
      validateSmtFaultRule(rule);
    } catch (e) {
      if (ScmiConfigError.is(e)) return e.field;
      throw e;
    }
    return undefined;
  };

  it('should return a checked copy, its match and action copied too', () => {
    const rule = { match: { nth: 2 }, action: { kind: 'stuck-busy' as const, ms: 5 } };
    const valid = validateSmtFaultRule(rule);
    expect(valid).toEqual(rule);
    expect([valid === rule, valid.match === rule.match, valid.action === rule.action]).toEqual([
      false,
      false,
      false,
    ]);
    expect(validateSmtFaultRule({ match: null, action: { kind: 'no-free' } })).toEqual({
      action: { kind: 'no-free' },
    });
  });

  it('should name the invalid field', () => {
    expect(field(null)).toBe('rule');
    expect(field({ id: '', action: { kind: 'no-free' } })).toBe('rule.id');
    expect(field({ match: 3, action: { kind: 'no-free' } })).toBe('rule.match');
    expect(field({ match: { direction: 'x' }, action: { kind: 'no-free' } })).toBe(
      'rule.match.direction',
    );
    expect(field({ match: { nth: 0 }, action: { kind: 'no-free' } })).toBe('rule.match.nth');
    expect(field({ match: { protocolId: 256 }, action: { kind: 'no-free' } })).toBe(
      'rule.match.protocolId',
    );
    expect(field({ action: { kind: 'melt' } })).toBe('rule.action.kind');
    expect(field({ action: 'no-free' })).toBe('rule.action.kind');
    expect(field({ match: { direction: 'p2a' }, action: { kind: 'stuck-busy' } })).toBe(
      'rule.action.kind',
    );
    expect(field({ action: { kind: 'hostile-length' } })).toBe('rule.action.length');
    expect(field({ action: { kind: 'hostile-length', length: 2 ** 32 } })).toBe(
      'rule.action.length',
    );
    expect(field({ action: { kind: 'early-free', ms: -1 } })).toBe('rule.action.ms');
    expect(field({ action: { kind: 'no-free', freeAfterMs: Infinity } })).toBe(
      'rule.action.freeAfterMs',
    );
    expect(
      field({ match: { direction: 'p2a' }, action: { kind: 'hostile-length', length: 0 } }),
    ).toBeUndefined();
  });
});
