import { ScmiTransportError, type WorkerHost } from '@scmi-ts/core';
import { openOpteeWorkerWire } from '../src/index.js';

describe(openOpteeWorkerWire, () => {
  it.each(['1', 1.5, undefined, null])(
    'should reject with E_WORKER_PROTOCOL when the worker answers opteeOpen with %p, not an id',
    async (answer) => {
      const host = { name: 'rogue', call: () => Promise.resolve(answer) } as unknown as WorkerHost;
      const error: unknown = await openOpteeWorkerWire(host, { channels: [{ id: 0 }] }).catch(
        (e: unknown) => e,
      );
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'E_WORKER_PROTOCOL',
        message: `worker "rogue" answered "opteeOpen" with ${String(answer)}, not an OP-TEE id`,
      });
    },
  );

  it('should keep the counters the worker answers at the close readable after it', async () => {
    const calls: string[] = [];
    let stats = 1;
    const host = {
      name: 'fake',
      exited: new Promise(() => undefined),
      call: (method: string) => {
        calls.push(method);
        if (method === 'opteeOpen') return Promise.resolve(7);
        return Promise.resolve(method === 'opteeClose' ? { at: 'close' } : { at: stats++ });
      },
    } as unknown as WorkerHost;
    const wire = await openOpteeWorkerWire(host, { channels: [{ id: 0 }] });
    expect(await wire.stats()).toEqual({ at: 1 });
    await wire.close();
    expect(await wire.stats()).toEqual({ at: 'close' });
    expect(calls).toEqual(['opteeOpen', 'opteeStats', 'opteeClose']);
  });
});
