import { ChannelLock } from '../src/transport/channel-lock.js';

describe(ChannelLock, () => {
  it('should hand the lock to waiters in order, one at a time', async () => {
    const lock = new ChannelLock();
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.tryAcquire()).toBe(false);
    const order: number[] = [];
    const a = lock.acquire().then((ok) => order.push(ok ? 1 : -1));
    const b = lock.acquire().then((ok) => order.push(ok ? 2 : -2));
    expect(lock.waiting).toBe(2);
    lock.release();
    await a;
    expect(order).toEqual([1]);
    expect(lock.held).toBe(true);
    lock.release();
    await b;
    lock.release();
    expect(order).toEqual([1, 2]);
    expect(lock.held).toBe(false);
    lock.release(); // releasing a free lock is a no-op
    expect(lock.held).toBe(false);
  });

  it('should wake every waiter with false when closed, and refuse later acquisitions', async () => {
    const lock = new ChannelLock();
    await expect(lock.acquire()).resolves.toBe(true);
    const waiting = [lock.acquire(), lock.acquire()];
    lock.close();
    await expect(Promise.all(waiting)).resolves.toEqual([false, false]);
    lock.release();
    expect(lock.tryAcquire()).toBe(false);
    await expect(lock.acquire()).resolves.toBe(false);
    lock.close();
  });
});
