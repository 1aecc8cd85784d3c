import { Device, formatDevresEvent, getReleaseFailure } from '@scmi-ts/devres';

/** Where the demo writes its lines. */
export type Print = (line: string) => void;

/**
 * The devres part of the main job: a probe that fails half-way (as when Base discovery times out)
 * and a probe that succeeds followed by a remove, printing the teardown log of each: every quiesce
 * step newest first, then every release step newest first.
 *
 * @example
 * ```ts
 * await runDevresDemo(console.log);
 * ```
 */
export async function runDevresDemo(print: Print): Promise<void> {
  // Print quiesce and release steps as they happen.
  const device = new Device('scmi0', {
    log: (event) => {
      if (event.type === 'quiesce' || event.type === 'release')
        print(`  ${formatDevresEvent(event)}`);
    },
  });

  const probeSteps = async (failHalfWay: boolean): Promise<void> =>
    device.probe(async (res) => {
      res.add({
        name: 'mailbox channel a2p:0',
        value: 'a2p:0',
        quiesce: () => {
          print('      channel a2p:0 refuses new RX callbacks, waits for running ones');
        },
        release: () => undefined,
      });
      res.add({
        name: 'mailbox channel p2a:0',
        value: 'p2a:0',
        quiesce: () => {
          print('      channel p2a:0 refuses new RX callbacks, waits for running ones');
        },
        release: () => undefined,
      });
      res.addAction('transfer pool (20 transfers)', () => undefined);
      await Promise.resolve();
      if (failHalfWay) throw new Error('Base PROTOCOL_VERSION timed out after 30 ms');
      await res.group('protocol 0x14 (clock)', (group) => {
        group.addAction('clock notifications', () => undefined);
      });
      res.addAction('notification queue', () => undefined);
    });

  print('devres: a probe that fails half-way');
  try {
    await probeSteps(true);
  } catch (error) {
    print(`  probe failed: ${(error as Error).message}`);
    const failures = getReleaseFailure(error);
    if (failures !== undefined) print(`  teardown failures: ${failures.message}`);
  }

  print('devres: a probe that succeeds, then remove');
  await probeSteps(false);
  print(`  bound with ${device.devres?.live().length ?? 0} resources`);
  await device.remove();
}
