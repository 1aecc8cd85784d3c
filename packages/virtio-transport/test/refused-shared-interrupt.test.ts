import { ScmiTimeoutError, readU32 } from '@scmi-ts/core';
import { DescriptorChain } from '@scmi-ts/virtio-transport';
import { ManualDevice } from './support/manual-device.js';
import { BASE_NOTIFICATION, manualRig } from './support/manual-rig.js';

function cmdqOf(device: ManualDevice): NonNullable<ManualDevice['cmdq']> {
  const cmdq = device.cmdq;
  if (cmdq === undefined) throw new Error('the device has no cmdq');
  return cmdq;
}

/** Answers held command `head` (its header, status SUCCESS) and publishes it, without ringing. */
function answer(device: ManualDevice, head: number): void {
  const cmdq = cmdqOf(device);
  const chain = new DescriptorChain(16);
  cmdq.walk(head, chain);
  const request = new Uint8Array(64);
  cmdq.readChain(chain, request);
  const reply = new Uint8Array(8);
  new DataView(reply.buffer).setUint32(0, readU32(request, 0), true);
  cmdq.pushUsed(head, cmdq.writeChain(chain, reply, reply.byteLength));
}

async function lateRepliesAtTeardown(
  replies: number,
  thenNotification: boolean,
  notificationFirst = false,
): Promise<{
  refused: number | undefined;
  late: number | undefined;
  p2aRefused: number | undefined;
}> {
  const { clock, platform, wire, device, probe } = manualRig(false);
  const agent = await probe();
  device.holdCommands = true;
  const sent = Array.from({ length: replies }, () => agent.base.discoverVendor());
  await clock.runTasks();
  await clock.advance(31);
  for (const s of sent) await expect(s).rejects.toBeInstanceOf(ScmiTimeoutError);
  expect(device.heldCommands).toHaveLength(replies);
  device.acknowledgeReset = false; // teardown waits at the reset: both channels quiesced
  const removing = agent.remove();
  await clock.runTasks();
  if (notificationFirst) {
    device.event(device.eventHeads.shift() as number, BASE_NOTIFICATION);
    await clock.runTasks();
  }
  // The late replies come back, in one publication and one interrupt.
  for (const head of device.heldCommands) answer(device, head);
  cmdqOf(device).publishUsed();
  device.doorbells.interrupt.ring();
  await clock.runTasks();
  if (thenNotification) {
    device.event(device.eventHeads.shift() as number, BASE_NOTIFICATION);
    await clock.runTasks();
  }
  const a2p = wire.driverDiagnostics.channels.get('a2p:0')?.counters;
  const p2aRefused = wire.driverDiagnostics.channels.get('p2a:0')?.counters.refusedAfterQuiesce;
  const refused = a2p?.refusedAfterQuiesce;
  const late = a2p?.lateReplies;
  await clock.runUntilIdle();
  await removing;
  device.hang();
  platform.close();
  return { refused, late, p2aRefused };
}

/**
 * The used-buffer interrupt is shared by the cmdq and the eventq. After both channels quiesced, a
 * refused interrupt counts the elements each virtqueue has newly used, once each: a late cmdq
 * reply still unread is not counted again by a later interrupt (here an eventq notification
 * before the reset), and two late replies published together (one interrupt) count two.
 */
describe('virtio refused-after-quiesce count on a shared interrupt', () => {
  it('should count one late cmdq reply once when an eventq interrupt follows it', async () => {
    const { refused, late } = await lateRepliesAtTeardown(1, true);
    expect((late ?? 0) + (refused ?? 0)).toBe(1);
  });

  it('should count two late cmdq replies returned in one publication twice', async () => {
    const { refused, late } = await lateRepliesAtTeardown(2, false);
    expect((late ?? 0) + (refused ?? 0)).toBe(2);
  });

  it('should count one notification refused on the eventq once when a cmdq interrupt follows it', async () => {
    const { p2aRefused } = await lateRepliesAtTeardown(1, false, true);
    expect(p2aRefused).toBe(1);
  });
});
