import { MessageChannel } from 'node:worker_threads';
import { openMsgqPortEnd } from '@scmi-ts/example-transport';

describe('openMsgqPortEnd', () => {
  describe('when the other thread posts frames of another shape', () => {
    it('should drop and count each, never throw', async () => {
      const { port1, port2 } = new MessageChannel();
      const end = openMsgqPortEnd(port1);
      port2.postMessage('hello');
      port2.postMessage(['a2p', 0.5, new Uint8Array(4)]);
      port2.postMessage(['p2p', 0, new Uint8Array(4)]);
      port2.postMessage(['a2p', 0, [1, 2, 3, 4]]);
      port2.postMessage(['a2p', 0, new Uint8Array(4)]); // well formed, but nobody listens
      port2.close();
      await end.closed;
      expect(end.dropped).toBe(5);
    });
  });

  describe('when the port closes', () => {
    it('should tell every receiver gone, after the messages sent before', async () => {
      const { port1, port2 } = new MessageChannel();
      const end = openMsgqPortEnd(port1);
      const seen: string[] = [];
      end.listen('a2p', 0, {
        message: (bytes) => seen.push(`message of ${bytes.byteLength} bytes`),
        gone: () => seen.push('gone'),
      });
      const other = openMsgqPortEnd(port2);
      other.send('a2p', 0, new Uint8Array(8));
      other.close();
      await end.closed;
      expect(seen).toEqual(['message of 8 bytes', 'gone']);
      end.send('a2p', 0, new Uint8Array(8)); // closed: dropped, never throws
    });
  });
});
