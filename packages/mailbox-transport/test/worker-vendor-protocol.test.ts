import { Container } from 'inversify';
import {
  PROTOCOL_DRIVER,
  coreModule,
  createAgent,
  readU32,
  resolveWorkerEntry,
  startWorker,
  type ProtocolDriver,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { mailboxTransportModule, openSmtWorkerWire } from '@scmi-ts/mailbox-transport';
import { join } from 'node:path';
import type { MailboxWorkerData } from './support/mailbox-worker.js';

/**
 * A vendor protocol on a platform in a worker thread: the worker's own module gives the platform
 * its vendor protocols (their functions cannot be posted to it), and the agent's thread reaches
 * them over the shared-memory mailbox like any protocol.
 */
describe('a vendor protocol served by a platform in a worker', () => {
  ensureNoLeaksInSuite();

  it('should answer the driver chosen for the platform across the threads', async () => {
    const data: MailboxWorkerData = {
      platformConfig: createDefaultPlatformConfig(),
      seed: 1,
      vendorEcho: true,
    };
    const host = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, 'support'), 'mailbox-worker'),
      data,
      name: 'vendor-protocol-platform',
    });
    try {
      const smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
      const driver: ProtocolDriver<(x: number) => Promise<number>> = {
        protocolId: 0x84,
        name: 'echo',
        version: 0x10000,
        vendor: 'scmi-ts',
        subVendor: 'emulated',
        messageNames: { 0x3: 'ECHO_INVERTED' },
        init: (ph) => async (x) =>
          readU32(await ph.xfer.transact(0x3, (w) => w.u32(x), { txSize: 4, rxSize: 4 }), 0),
      };
      const container = new Container();
      container.load(coreModule, mailboxTransportModule);
      container.bind(PROTOCOL_DRIVER).toConstantValue(driver);
      const agent = await createAgent(container, {
        transport: 'mailbox',
        rxTimeoutMs: 5_000,
        transportConfig: { wire: smt.wire },
      });
      try {
        expect(agent.info.protocols).toContain(0x84);
        const echo = agent.protocol(driver);
        expect(await echo(0x12345678)).toBe(0xedcba987);
        expect(await echo(0)).toBe(0xffffffff);
      } finally {
        await agent.remove();
      }
      await smt.close();
    } finally {
      await host.stop();
    }
  });
});
