import { Container } from 'inversify';
import {
  RealClock,
  ScmiConfigError,
  ScmiTransportError,
  coreModule,
  createAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  createSmtWorkerHandlers,
  mailboxTransportModule,
  openSmtWorkerWire,
} from '@scmi-ts/mailbox-transport';

/**
 * The worker service and its client on one thread (the worker-mode tests run the same code in a
 * worker, where coverage is not collected): a host whose `call` runs the handlers directly.
 */
describe(createSmtWorkerHandlers, () => {
  ensureNoLeaksInSuite();

  it('should open, report, re-fault and close responders over shared wires', async () => {
    const clock = new RealClock();
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const service = createSmtWorkerHandlers(platform, clock);
    const handlers = service.handlers as Record<string, (...args: unknown[]) => unknown>;
    const host = {
      call: (method: string, ...args: unknown[]) =>
        Promise.resolve().then(() => (handlers[method] as (...a: unknown[]) => unknown)(...args)),
      exited: new Promise<number>(() => undefined), // this "worker" never exits
    } as unknown as WorkerHost;
    const smt = await openSmtWorkerWire(host, {
      agentId: 1,
      a2p: [0],
      p2a: [0],
      p2aQueueDepth: 4,
      faults: [{ match: { times: 1 }, action: { kind: 'spurious-doorbell' } }],
    });
    expect(service.open).toBe(1);
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);
    const agent = await createAgent(container, {
      transport: 'mailbox',
      rxTimeoutMs: 1000, // real time on a loaded machine: no false timeouts
      transportConfig: { wire: smt.wire },
    });
    expect(agent.info.vendor).toBe('scmi-ts');
    await smt.setFaults([{ action: { kind: 'hostile-length', length: 3 } }]);
    await expect(agent.transact(0x10, 0x0)).rejects.toThrow(/PROTOCOL_ERROR/);
    const stats = await smt.stats();
    expect(stats.faults).toMatchObject({ 'spurious-doorbell': 1, 'hostile-length': 1 });
    await agent.remove();
    const closed = await smt.close();
    expect(await smt.close()).toBe(closed);
    expect(closed?.closed).toBe(true);
    await expect(smt.stats()).rejects.toThrow(RangeError);
    expect(service.open).toBe(0);
    // A second wire, closed by closeAll (the worker's onStop).
    await openSmtWorkerWire(host, { agentId: 1 });
    service.closeAll();
    expect(service.open).toBe(0);
    platform.close();
  });

  it.each(['E_WORKER_STOPPED', 'E_WORKER_EXITED'])(
    'should close to undefined once the worker is gone (%s): the responder went with it',
    async (code) => {
      const clock = new RealClock();
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const service = createSmtWorkerHandlers(platform, clock);
      const handlers = service.handlers as Record<string, (...args: unknown[]) => unknown>;
      let gone = false;
      const host = {
        call: (method: string, ...args: unknown[]) =>
          gone
            ? Promise.reject(new ScmiTransportError(code, `cannot call "${method}"`))
            : Promise.resolve().then(() =>
                (handlers[method] as (...a: unknown[]) => unknown)(...args),
              ),
        exited: new Promise<number>(() => undefined),
      } as unknown as WorkerHost;
      const smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0] });
      gone = true; // host.stop() first (its onStop runs closeAll), then smt.close()
      service.closeAll();
      await expect(smt.close()).resolves.toBeUndefined();
      await expect(smt.close()).resolves.toBeUndefined();
      await expect(smt.stats()).rejects.toThrow('cannot call "smtStats"'); // no counters left
      platform.close();
    },
  );

  it('should leave the rules as they were when smtSetFaults refuses a rule of the list, installing none of it', async () => {
    const clock = new RealClock();
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const service = createSmtWorkerHandlers(platform, clock);
    const handlers = service.handlers as Record<string, (...args: unknown[]) => unknown>;
    const host = {
      call: (method: string, ...args: unknown[]) =>
        Promise.resolve().then(() => (handlers[method] as (...a: unknown[]) => unknown)(...args)),
      exited: new Promise<number>(() => undefined), // this "worker" never exits
    } as unknown as WorkerHost;
    const smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);
    const agent = await createAgent(container, {
      transport: 'mailbox',
      rxTimeoutMs: 1000, // real time on a loaded machine: no false timeouts
      transportConfig: { wire: smt.wire },
    });
    const PROTOCOL_VERSION = { protocolId: 0x10, messageId: 0x0 };
    const DISCOVER_VENDOR = { protocolId: 0x10, messageId: 0x3 };
    try {
      await smt.setFaults([
        { match: PROTOCOL_VERSION, action: { kind: 'hostile-length', length: 3 } },
      ]);
      // A valid rule, then an invalid one: refused as a whole.
      const refused: unknown = await smt
        .setFaults([
          { match: DISCOVER_VENDOR, action: { kind: 'hostile-length', length: 3 } },
          { action: { kind: 'bogus' as 'no-free' } },
        ])
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ScmiConfigError);
      expect(refused).toMatchObject({ field: 'rules[1].action.kind' });
      // The old rule still fires; the refused list's first rule was not installed.
      await expect(agent.transact(0x10, 0x0)).rejects.toThrow(/PROTOCOL_ERROR/);
      await expect(agent.base.discoverVendor()).resolves.toBe('scmi-ts');
      expect((await smt.stats()).faults).toMatchObject({ 'hostile-length': 1 });
    } finally {
      // Also when an expectation failed: an agent left listening keeps jest from exiting.
      await agent.remove();
      await smt.close();
      platform.close();
    }
    expect(service.open).toBe(0);
  });
});

describe(openSmtWorkerWire, () => {
  it.each(['1', 1.5, undefined, null])(
    'should reject with E_WORKER_PROTOCOL when the worker answers smtOpen with %p, not a responder id',
    async (answer) => {
      const host = { name: 'rogue', call: () => Promise.resolve(answer) } as unknown as WorkerHost;
      const error: unknown = await openSmtWorkerWire(host, { agentId: 1 }).catch((e: unknown) => e);
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'E_WORKER_PROTOCOL',
        message: `worker "rogue" answered "smtOpen" with ${String(answer)}, not a responder id`,
      });
    },
  );
});
