import { Devres, type ResourceHandle } from '@scmi-ts/devres';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection on demand: the flag, then `gc` from a context created after it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Resolves on a later macrotask: a WeakRef's target is kept alive until the job that made it ends. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Registers a resource whose value only the devres holds (made here, no caller's local keeps it). */
function register(res: Devres): { ref: WeakRef<object>; handle: ResourceHandle<object> } {
  const value = { buffer: new Uint8Array(1 << 16) };
  return {
    ref: new WeakRef(value),
    handle: res.add({ name: 'channel', value, release: () => undefined }),
  };
}

describe('a released resource', () => {
  it.each<[string, (res: Devres, handle: ResourceHandle<object>) => Promise<void>]>([
    ['by releaseAll', (res) => res.releaseAll()],
    ['early, by release(handle)', (res, handle) => res.release(handle)],
  ])(
    'should not keep its value reachable from its handle once released %s (the handle may outlive the device)',
    async (_, release) => {
      const res = new Devres('dev');
      const { ref, handle } = register(res);
      await release(res, handle);
      await nextTask();
      collect();
      expect(ref.deref()).toBeUndefined();
      expect(handle.state).toBe('released'); // the handle itself is still reachable here
      await res.releaseAll();
    },
  );
});
