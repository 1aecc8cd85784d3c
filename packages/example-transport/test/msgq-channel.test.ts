import {
  ScmiMessageType,
  ScmiStatus,
  ScmiTimeoutError,
  buildHeader,
  encodeMsgResponse,
  headerToken,
  readU32,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { msgqTransport } from '@scmi-ts/example-transport';
import { answerByHand, badMessages, createBench, stats, type Bench } from './support/bench.js';

const BASE = 0x10;
const PROTOCOL_VERSION = 0x0;
const VERSION = new Uint8Array([0, 0, 2, 0]);

describe('MsgqChannel (the agent side of a msgq channel)', () => {
  let bench: Bench;
  beforeEach(() => {
    bench = createBench();
  });
  afterEach(() => bench.close());
  ensureNoLeaksInSuite();

  describe('when the platform sends a message shorter than a header', () => {
    it('should drop it and count it invalid, on A2P and on P2A', async () => {
      const agent = await bench.probe();
      bench.wire.platform.send('a2p', 0, new Uint8Array(3));
      bench.wire.platform.send('p2a', 0, new Uint8Array(0));
      await bench.clock.runUntilIdle();
      expect(stats(agent, 'a2p:0').badMessages.invalid).toBe(1);
      expect(stats(agent, 'p2a:0').badMessages.invalid).toBe(1);
    });
  });

  describe('when the platform sends a message longer than 4 + maxMsgSize bytes', () => {
    it('should drop it whole and count it oversize, on A2P and on P2A', async () => {
      const agent = await bench.probe();
      const long = new Uint8Array(4 + msgqTransport.descriptor.maxMsgSize + 1);
      bench.wire.platform.send('a2p', 0, long);
      bench.wire.platform.send('p2a', 0, long);
      await bench.clock.runUntilIdle();
      expect(badMessages(stats(agent, 'a2p:0'))).toBe(1);
      expect(stats(agent, 'a2p:0').badMessages.oversize).toBe(1);
      expect(badMessages(stats(agent, 'p2a:0'))).toBe(1);
      expect(stats(agent, 'p2a:0').badMessages.oversize).toBe(1);
    });
  });

  describe('when a response has no status word', () => {
    it('should complete its command with PROTOCOL_ERROR and count the response invalid', async () => {
      const agent = await bench.probe();
      answerByHand(bench, (request) => [new Uint8Array([...request.subarray(0, 4), 0, 0])]);
      await expect(agent.transact(BASE, PROTOCOL_VERSION)).rejects.toMatchObject({
        status: ScmiStatus.PROTOCOL_ERROR,
      });
      expect(badMessages(stats(agent, 'a2p:0'))).toBe(1);
      expect(stats(agent, 'a2p:0').badMessages.invalid).toBe(1);
    });
  });

  describe.each([false, true])(
    'when a reply comes after its transfer timed out (polling: %s)',
    (polling) => {
      it('should hand it to core inside the guard, which counts it late, once', async () => {
        const agent = await bench.probe({ a2p: [{ id: 0, polling }] });
        const held: (() => void)[] = [];
        bench.wire.setAgentSignalInterceptor((deliver) => held.push(deliver));
        await expect(
          agent.transact(BASE, PROTOCOL_VERSION, undefined, { timeoutMs: 5 }),
        ).rejects.toThrow(ScmiTimeoutError);
        bench.wire.setAgentSignalInterceptor(undefined);
        expect(held).toHaveLength(1);
        held[0]?.();
        expect(stats(agent, 'a2p:0').lateReplies).toBe(1);
        expect(badMessages(stats(agent, 'a2p:0'))).toBe(0);
        expect(bench.wire.agent.dropped).toBe(0); // counted by core, not by the wire
        // The slot was given back at the timeout: the next command goes through.
        await expect(agent.transact(BASE, PROTOCOL_VERSION)).resolves.toHaveLength(4);
      });
    },
  );

  describe('when a polled reply was kept and its transfer is given up before the poll', () => {
    it('should hand the kept reply to core at markTxDone, which counts it late, once', async () => {
      const agent = await bench.probe({ a2p: [{ id: 0, polling: true }] });
      const held: (() => void)[] = [];
      bench.wire.setAgentSignalInterceptor((deliver) => held.push(deliver));
      const abort = new AbortController();
      const given = agent.transact(BASE, PROTOCOL_VERSION, undefined, { signal: abort.signal });
      await bench.clock.runTasks(); // the command is answered; its reply held by the interceptor
      bench.wire.setAgentSignalInterceptor(undefined);
      expect(held).toHaveLength(1);
      held[0]?.(); // the channel keeps it for pollDone…
      abort.abort(); // …and its caller gives the transfer up before the next poll
      await expect(given).rejects.toThrow();
      await bench.clock.runUntilIdle();
      expect(stats(agent, 'a2p:0').lateReplies).toBe(1);
      expect(badMessages(stats(agent, 'a2p:0'))).toBe(0);
    });
  });

  describe('when a second reply to a polled command comes while its first is kept', () => {
    it('should complete the command with the first, and drop and count the second invalid', async () => {
      const agent = await bench.probe({ a2p: [{ id: 0, polling: true }] });
      answerByHand(bench, (request) => {
        const header = readU32(request, 0);
        // The answer, then a duplicate of another content, before the agent polls.
        return [
          encodeMsgResponse(header, 0, VERSION),
          encodeMsgResponse(header, 0, new Uint8Array([9, 9, 9, 9])),
        ];
      });
      const returns = await agent.transact(BASE, PROTOCOL_VERSION);
      expect([...returns]).toEqual([...VERSION]);
      await bench.clock.runUntilIdle();
      expect(stats(agent, 'a2p:0').badMessages.invalid).toBe(1);
      expect(badMessages(stats(agent, 'a2p:0'))).toBe(1);
      expect(stats(agent, 'a2p:0').lateReplies).toBe(0);
    });
  });

  describe('when a reply carries the header of a command still waiting in send', () => {
    it('should count it unexpected, and answer that command in its turn', async () => {
      const agent = await bench.probe();
      let first = true;
      answerByHand(bench, (request) => {
        const header = readU32(request, 0);
        const replies = [encodeMsgResponse(header, 0, VERSION)];
        if (first) {
          // The next command's header (tokens are monotonic), before that command is written.
          const token = headerToken(header) + 1;
          const next = buildHeader(PROTOCOL_VERSION, ScmiMessageType.COMMAND, BASE, token);
          replies.unshift(encodeMsgResponse(next, 0, VERSION));
          first = false;
        }
        return replies;
      });
      const both = Promise.all([
        agent.transact(BASE, PROTOCOL_VERSION),
        agent.transact(BASE, PROTOCOL_VERSION),
      ]);
      await expect(both).resolves.toHaveLength(2);
      expect(stats(agent, 'a2p:0').badMessages.unexpected).toBe(1);
      expect(badMessages(stats(agent, 'a2p:0'))).toBe(1);
    });
  });

  describe('.free', () => {
    it('should unplug the doorbell: a message after removal is dropped and counted by the wire', async () => {
      const agent = await bench.probe();
      await agent.remove();
      bench.wire.platform.send('a2p', 0, encodeMsgResponse(0, 0));
      bench.wire.platform.send('p2a', 0, new Uint8Array(8));
      await bench.clock.runUntilIdle();
      expect(bench.wire.agent.dropped).toBe(2);
      expect(bench.clock.armedTimers).toBe(0);
    });
  });
});
