import { ScmiTransportError } from '../src/errors/scmi-error.js';
import { serveWorker } from '../src/worker/worker-entry.js';

describe(serveWorker, () => {
  describe('when called on the main thread', () => {
    it('should throw E_WORKER_CONTEXT', () => {
      expect(() => {
        serveWorker({});
      }).toThrow(
        new ScmiTransportError('E_WORKER_CONTEXT', 'serveWorker() must run in a worker thread'),
      );
    });
  });
});
