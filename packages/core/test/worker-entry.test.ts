import { ScmiTransportError } from '../src/errors/scmi-error.js';
import { serveWorker } from '../src/worker/worker-entry.js';

describe(serveWorker, () => {
  describe('when called on the main thread', () => {
    it('should throw E_WORKER_CONTEXT', () => {
      const serve = (): void => {
        serveWorker({});
      };
      expect(serve).toThrow(ScmiTransportError);
      expect(serve).toThrow(
        expect.objectContaining({
          code: 'E_WORKER_CONTEXT',
          message: 'serveWorker() must run in a worker thread',
        }) as Error,
      );
    });
  });
});
