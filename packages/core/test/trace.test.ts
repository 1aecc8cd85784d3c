import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { TRACE_CHANNELS, ScmiTimeoutError } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';
import type { LoopbackChannel } from './support/loopback-transport.js';

describe('TRACE_CHANNELS', () => {
  ensureNoLeaksInSuite();

  it('should publish tx, rx, timeout, bad-message and teardown events', async () => {
    const seen: Record<string, unknown[]> = {};
    const handlers = Object.values(TRACE_CHANNELS).map((name) => {
      const handler = (message: unknown): void => {
        (seen[name] ??= []).push(message);
      };
      subscribe(name, handler);
      return [name, handler] as const;
    });
    try {
      const h = createHarness();
      const agent = await h.create();
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x9 ? 45 : undefined;
      await expect(agent.transact(0x14, 0x9)).rejects.toBeInstanceOf(ScmiTimeoutError);
      h.platform.respond(1, 0, new Uint8Array([0, 0, 0, 0xf0, 0, 0, 0, 0]));
      // A notification no driver registered: counted `unknown` and published like the others.
      expect(h.platform.notify(1, 0x14, 0x7, new Uint8Array(8))).toBe(true);
      await h.clock.runUntilIdle();
      await agent.remove();
      expect(seen[TRACE_CHANNELS.tx]?.[0]).toMatchObject({
        agent: 'scmi0',
        channel: 'a2p:0',
        protocolId: 0x10,
        messageId: 0,
      });
      expect(seen[TRACE_CHANNELS.rx]?.[0]).toMatchObject({ agent: 'scmi0', kind: 'response' });
      expect(seen[TRACE_CHANNELS.timeout]).toEqual([
        expect.objectContaining({ protocolId: 0x14, messageId: 0x9, phase: 'response' }),
      ]);
      expect(seen[TRACE_CHANNELS.badMessage]).toEqual([
        expect.objectContaining({ reason: 'invalid', header: 0xf0000000 }),
        expect.objectContaining({ channel: 'p2a:0', reason: 'unknown', header: 0x00005307 }),
      ]);
      expect(seen[TRACE_CHANNELS.teardown]).toContainEqual({
        agent: 'scmi0',
        step: 'quiesce',
        resource: 'channel a2p:0',
        reason: 'remove',
      });
    } finally {
      for (const [name, handler] of handlers) unsubscribe(name, handler);
    }
  });

  it("should give a bad-message event the cause a transport's fetchNotification threw", async () => {
    const seen: unknown[] = [];
    const handler = (message: unknown): void => {
      seen.push(message);
    };
    subscribe(TRACE_CHANNELS.badMessage, handler);
    try {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [{ id: 0x7, name: 'test event' }]);
      const boom = new Error('boom');
      const p2a = h.wire.channels.get('p2a:0') as LoopbackChannel;
      p2a.fetchNotification = () => {
        throw boom;
      };
      expect(h.platform.notify(1, 0x14, 0x7, new Uint8Array(8))).toBe(true);
      await h.clock.runUntilIdle();
      await agent.remove();
      expect(seen).toEqual([
        expect.objectContaining({ channel: 'p2a:0', reason: 'invalid', cause: boom }),
      ]);
    } finally {
      unsubscribe(TRACE_CHANNELS.badMessage, handler);
    }
  });
});
