import { ScmiConfigError } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { msgqTransport } from '@scmi-ts/example-transport';
import { createBench, type Bench } from './support/bench.js';

/** What `fn` throws (fails the test when it does not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('msgqTransport', () => {
  let bench: Bench;
  beforeEach(() => {
    bench = createBench();
  });
  afterEach(() => bench.close());
  ensureNoLeaksInSuite();

  describe('.validateConfig', () => {
    it('should refuse a section without a wire end, naming the field and showing the value', () => {
      const error = thrown(() => msgqTransport.validateConfig?.({ end: 1n }, 'transportConfig'));
      expect(error).toBeInstanceOf(ScmiConfigError);
      expect(error).toMatchObject({ field: 'transportConfig.end', message: /got 1n/ });
    });

    it('should refuse a key it does not know, naming it', () => {
      const section = { end: bench.wire.agent, ned: 1 };
      expect(
        thrown(() => msgqTransport.validateConfig?.(section, 'transportConfig')),
      ).toMatchObject({
        field: 'transportConfig.ned',
      });
    });
  });

  describe('.validateChannelConfig', () => {
    it('should refuse any per-channel section, naming it', async () => {
      await expect(bench.probe({ a2p: [{ id: 0, transport: {} }] })).rejects.toMatchObject({
        field: 'a2p[0].transport',
      });
    });
  });

  describe('.validateChannels', () => {
    it('should refuse an A2P channel the wire does not carry, before anything is set up', async () => {
      await expect(
        bench.probe({ a2p: [{ id: 0 }, { id: 5, protocols: [0x14] }] }),
      ).rejects.toMatchObject({ field: 'a2p[1].id' });
      expect(bench.wire.platform.dropped).toBe(0); // nothing was sent
    });

    it('should refuse a P2A channel other than 0', async () => {
      await expect(bench.probe({ p2a: [{ id: 1 }] })).rejects.toMatchObject({ field: 'p2a[0].id' });
    });
  });

  describe('.setupChannel', () => {
    describe('when the wire carries no P2A messages', () => {
      it('should refuse the P2A channel with E_NOT_SUPPORTED, and the agent runs without', async () => {
        await bench.close();
        bench = createBench({ p2a: false });
        const agent = await bench.probe();
        expect(agent.diagnostics.channels.map((c) => c.label)).toEqual(['a2p:0']);
        await expect(
          agent.transact(0x14, 0x5, new Uint8Array(16), { async: true }),
        ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
      });
    });

    describe('when another agent listens on the channel', () => {
      it('should refuse it with E_CHANNEL_BUSY', async () => {
        await bench.probe();
        const other = createBench();
        await expect(
          other.probe({ transportConfig: { end: bench.wire.agent } }),
        ).rejects.toMatchObject({ code: 'E_CHANNEL_BUSY' });
        await other.close();
      });
    });
  });
});
