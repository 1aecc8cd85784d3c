import { join } from 'node:path';
import { resolveWorkerEntry, startWorker } from '@scmi-ts/core';

describe('the platform worker', () => {
  it('should refuse a setFaults list with an invalid rule and keep serving', async () => {
    const host = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, '../src'), 'platform-worker'),
      data: { transport: 'mailbox', agentId: 1 },
      name: 'platform-worker-test',
    });
    try {
      await host.call('setFaults', [{ action: { kind: 'drop' } }]);
      await expect(
        host.call('setFaults', [{ action: { kind: 'drop' } }, { action: { kind: 'nope' } }]),
      ).rejects.toThrow(/rules\[1\]: invalid fault rule/);
      await expect(host.call('armedTimers')).resolves.toBe(0);
    } finally {
      await host.stop();
    }
  });
});
