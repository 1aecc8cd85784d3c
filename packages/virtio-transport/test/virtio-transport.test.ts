import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createVirtioHarness } from './support/harness.js';

describe('virtio transport', () => {
  ensureNoLeaksInSuite();

  describe('when the device answers', () => {
    it('should probe, discover the platform and remove cleanly', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      expect(agent.info.vendor).toBeDefined();
      expect(await agent.base.discoverVendor()).toBe(agent.info.vendor);
      await agent.remove();
      await h.shutdown();
      const d = h.wire.driverDiagnostics;
      expect(d.violations).toEqual([]);
      expect(d.state).toBe('closed');
      expect(d.buffersAllocated).toBe(0);
      expect(h.clock.armedTimers).toBe(0);
    });
  });
});
