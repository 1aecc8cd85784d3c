import {
  Devres,
  DevresClosedError,
  Revocable,
  RevokedError,
  ensureNoLeaksInSuite,
  isPromiseLike,
} from '@scmi-ts/devres';

describe(Revocable, () => {
  ensureNoLeaksInSuite();

  it('should give access until revoked, then undefined from tryAccess and RevokedError from value', async () => {
    const r = new Revocable('regs', { base: 0x1000 });
    expect(r.tryAccess()?.base).toBe(0x1000);
    expect(r.value.base).toBe(0x1000);
    expect(r.access((v) => v.base + 1)).toBe(0x1001);
    await r.revoke();
    expect(r.isRevoked).toBe(true);
    expect(r.tryAccess()).toBeUndefined();
    expect(() => r.value).toThrow(RevokedError);
    expect(() => r.access(() => 1)).toThrow(RevokedError);
    expect(r.guard()).toBeUndefined();
    expect(r.refusedAccesses).toBe(2);
  });

  it('should wait for guards already held and refuse new ones once revocation starts', async () => {
    const r = new Revocable('chan', 1);
    const g = r.guard();
    expect(r.activeGuards).toBe(1);
    let revoked = false;
    const revocation = r.revoke().then(() => (revoked = true));
    expect(r.revoke()).toBe(r.revoke());
    await new Promise((res) => setImmediate(res));
    expect(revoked).toBe(false);
    expect(r.guard()).toBeUndefined();
    expect(g?.value).toBe(1);
    g?.release();
    g?.release(); // second release is a no-op
    await revocation;
    expect(revoked).toBe(true);
    expect(r.activeGuards).toBe(0);
  });

  it('should hold the guard of an async access until its promise settles', async () => {
    const r = new Revocable('chan', 1);
    let finish!: () => void;
    const work = r.access(() => new Promise<void>((res) => (finish = res)));
    let revoked = false;
    const revocation = r.revoke().then(() => (revoked = true));
    await new Promise((res) => setImmediate(res));
    expect(revoked).toBe(false);
    finish();
    await work;
    await revocation;
    expect(revoked).toBe(true);
  });

  it('should release the guard when a sync access throws, and when an async one rejects', async () => {
    const r = new Revocable('chan', 1);
    expect(() =>
      r.access(() => {
        throw new Error('x');
      }),
    ).toThrow('x');
    await expect(r.access(() => Promise.reject(new Error('y')))).rejects.toThrow('y');
    expect(r.activeGuards).toBe(0);
    await r.revoke();
  });

  it('should give a guard back once whatever the thenable an access returns does', async () => {
    const r = new Revocable('chan', 1);
    const held = r.guard();
    // A `then` that calls back twice: one guard given back, not the other one held too.
    const twice = {
      then: (ok: () => void, fail: () => void): void => {
        ok();
        fail();
      },
    };
    r.access(() => twice);
    expect(r.activeGuards).toBe(1);
    // A `then` getter that throws: the guard is given back, and the throw reaches the caller.
    const hostile = {
      get then(): never {
        throw new Error('no then');
      },
    };
    expect(() => r.access(() => hostile)).toThrow('no then');
    expect(r.activeGuards).toBe(1);
    // A `then` method that throws alike.
    const throwing = {
      then: (): never => {
        throw new Error('then threw');
      },
    };
    expect(() => r.access(() => throwing)).toThrow('then threw');
    expect(r.activeGuards).toBe(1);
    let revoked = false;
    const revoking = r.revoke().then(() => (revoked = true));
    await Promise.resolve();
    expect(revoked).toBe(false); // the guard still held keeps it
    held?.release();
    await revoking;
    expect(revoked).toBe(true);
  });

  it('should refuse the value of a guard given back', () => {
    const r = new Revocable('chan', 1);
    const g = r.guard();
    expect(g?.value).toBe(1);
    g?.release();
    expect(() => g?.value).toThrow(RevokedError);
  });

  it('should work with using', () => {
    const r = new Revocable('chan', 1);
    {
      using g = r.guard();
      expect(r.activeGuards).toBe(1);
      expect(g?.value).toBe(1);
    }
    expect(r.activeGuards).toBe(0);
  });

  describe('registered with Devres.revocable', () => {
    it('should be revoked in the quiesce phase, before any release', async () => {
      const log: string[] = [];
      const res = new Devres('dev');
      res.addAction('older', () => void log.push(`older sees revoked=${r.isRevoked}`));
      const r = res.revocable('regs', 5, (v) => void log.push(`release ${v}`));
      res.addAction('newer', () => void log.push(`newer sees revoked=${r.isRevoked}`));
      await res.releaseAll();
      expect(log).toEqual(['newer sees revoked=true', 'release 5', 'older sees revoked=true']);
    });

    it('should be revoked and released at once when offered after teardown', async () => {
      const res = new Devres('dev');
      await res.releaseAll();
      const release = jest.fn();
      let error: unknown;
      try {
        res.revocable('late', 1, release);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DevresClosedError);
      await (error as DevresClosedError).released;
      expect(release).toHaveBeenCalledWith(1, { kind: 'refused' });
    });
  });
});

describe(isPromiseLike, () => {
  it('should recognise thenables only', () => {
    expect(isPromiseLike(Promise.resolve())).toBe(true);
    expect(isPromiseLike({ then: () => undefined })).toBe(true);
    expect(isPromiseLike({ then: 1 })).toBe(false);
    expect(isPromiseLike(null)).toBe(false);
    expect(isPromiseLike(undefined)).toBe(false);
    expect(isPromiseLike(() => undefined)).toBe(false);
  });
});
