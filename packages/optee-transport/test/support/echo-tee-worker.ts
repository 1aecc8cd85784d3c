/**
 * Worker entry serving the echo TEE (`echo-tee.ts`) on the wires `openOpteeWorkerWire` opens: the
 * handlers it calls (`opteeOpen`, `opteeClose`, `opteeSetWireFaults`, `opteeStats`), and
 * `echoCalls()`, the invocations the echo TEE of the wire opened last received.
 */
import { serveWorker } from '@scmi-ts/core';
import { openOpteeWireEnd, type OpteeWireOptions } from '../../src/index.js';
import { attachEchoTee, type EchoCall, type EchoTee } from './echo-tee.js';

const wires = new Map<number, EchoTee>();
let next = 1;

serveWorker(
  {
    opteeOpen: (memory: SharedArrayBuffer, options: OpteeWireOptions): number => {
      const id = next++;
      wires.set(id, attachEchoTee(openOpteeWireEnd(memory, options, 'tee')));
      return id;
    },
    opteeClose: (id: number): undefined => {
      wires.get(id)?.close();
      wires.delete(id);
      return undefined;
    },
    opteeSetWireFaults: (): void => undefined,
    opteeStats: (): undefined => undefined,
    echoCalls: (): readonly EchoCall[] => wires.get(next - 1)?.calls ?? [],
  },
  {
    onStop: () => {
      for (const tee of wires.values()) tee.close();
      wires.clear();
    },
  },
);
