/**
 * The device's passes are bounded: a driver that keeps making entries available, or whose
 * `avail.idx` does not hold still, cannot hold the device's thread (in worker mode several agents'
 * devices and the platform's timers share it). Each test queues a task behind the kick on the
 * virtual clock and checks that it runs after at most one pass's budget (twice the queue size of
 * looks at the available ring), and that the rest is done by a later task without a new kick.
 */
import { ScmiMessageType, VirtualClock, buildHeader, encodeMsg } from '@scmi-ts/core';
import {
  DeviceVirtqueue,
  SplitRing,
  VirtioFeature,
  VirtioRegister,
  VirtioScmiDevice,
  VirtioScmiWire,
  featureMask,
} from '@scmi-ts/virtio-transport';
import { ManualDriver } from './support/manual-driver.js';
import { StubPlatform } from './support/stub-platform.js';

const V1 = featureMask(VirtioFeature.VERSION_1);
const P2A = featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
const EVENT_IDX = featureMask(VirtioFeature.RING_EVENT_IDX);
const CMDQ = 8;
const EVENTQ = 4;

function command(token: number): Uint8Array {
  return encodeMsg(buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, token), new Uint8Array(0));
}

async function setup(features: bigint) {
  const clock = new VirtualClock();
  const wire = VirtioScmiWire.sameThread(clock, { cmdqSize: CMDQ, eventqSize: EVENTQ });
  const platform = new StubPlatform();
  const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
  const driver = new ManualDriver(wire, clock);
  await driver.start({ features });
  const done = (): void => {
    device.close();
    driver.close();
  };
  /** Which queue a device-side view is (the cmdq and the eventq have their own areas). */
  const isEventq = (ring: SplitRing): boolean => ring.layout.desc === wire.layout.eventqBase;
  /**
   * Notifies the device with a task queued right behind the notification's delivery; resolves,
   * once every task ran, with what `probe` returned when that task ran.
   */
  const kickWithTaskBehind = async <T>(probe: () => T): Promise<T | undefined> => {
    let seen: T | undefined;
    driver.doorbells.notify.ring();
    clock.schedule(() => {
      seen = probe();
    });
    await clock.runTasks();
    return seen;
  };
  return { clock, wire, platform, device, driver, done, isEventq, kickWithTaskBehind };
}

describe('VirtioScmiDevice pass budget', () => {
  it.each([
    ['without EVENT_IDX', V1 | P2A],
    ['with EVENT_IDX', V1 | P2A | EVENT_IDX],
  ])(
    'should not starve a task queued behind the kick when the platform handling makes the same head available again (%s), nor lose the rest',
    async (_, features) => {
      const { clock, platform, device, driver, done, kickWithTaskBehind } = await setup(features);
      const REOFFERS = 40;
      let handled = 0;
      const echo = platform.reply;
      platform.reply = (request) => {
        handled++;
        // A hostile driver (another thread, in worker mode) offers head 0 again while the device
        // handles it: in order, the device returns it before it looks again, and takes it again.
        if (handled <= REOFFERS) driver.offerCmdq(0);
        return echo(request);
      };
      driver.command(0, command(1));
      const kicks = device.stats.kicks;
      const handledWhenTheTaskRan = await kickWithTaskBehind(() => handled);
      // One pass: at most twice the queue size of looks at the available ring.
      expect(handledWhenTheTaskRan).toBeGreaterThan(0);
      expect(handledWhenTheTaskRan).toBeLessThanOrEqual(2 * CMDQ);
      // The rest was taken by later tasks, with no other notification.
      expect(handled).toBe(REOFFERS + 1);
      expect(device.stats.kicks).toBe(kicks + 1);
      expect(device.stats).toMatchObject({ commands: REOFFERS + 1, responses: REOFFERS + 1 });
      // 41 commands and the last empty look: 42 looks, passes of 16.
      expect(device.stats.passesCutShort).toBe(2);
      expect(device.stats.badChains).toBe(0);
      expect(clock.pendingTasks).toBe(0);
      // The last pass asked for notifications again before it slept.
      if ((features & EVENT_IDX) !== 0n) {
        expect(driver.cmdq.loadAvailEvent()).toBe(REOFFERS + 1);
      }
      expect(driver.cmdq.loadUsedFlags()).toBe(0);
      expect(driver.cmdq.loadUsedIdx()).toBe(REOFFERS + 1);
      done();
    },
  );

  it.each([
    ['cmdq', 'without EVENT_IDX', V1 | P2A],
    ['cmdq', 'with EVENT_IDX', V1 | P2A | EVENT_IDX],
    ['eventq', 'without EVENT_IDX', V1 | P2A],
    ['eventq', 'with EVENT_IDX', V1 | P2A | EVENT_IDX],
  ] as const)(
    'should not starve a task queued behind the kick when alternate avail.idx reads of the %s disagree (%s)',
    async (queue, _, features) => {
      const { clock, platform, device, driver, done, isEventq, kickWithTaskBehind } =
        await setup(features);
      const DISAGREEMENTS = 100;
      let disagreements = 0;
      let rechecking = false;
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
      const enable = DeviceVirtqueue.prototype.enableNotifications;
      const enableSpy = jest
        .spyOn(DeviceVirtqueue.prototype, 'enableNotifications')
        .mockImplementation(function (this: DeviceVirtqueue) {
          rechecking = true;
          try {
            return enable.call(this);
          } finally {
            rechecking = false;
          }
        });
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its ring as `this`
      const load = SplitRing.prototype.loadAvailIdx;
      const loadSpy = jest.spyOn(SplitRing.prototype, 'loadAvailIdx').mockImplementation(function (
        this: SplitRing,
      ) {
        const idx = load.call(this);
        // The re-check after asking for notifications sees one entry more than the look that
        // found the ring empty, and the next look sees none again (a driver moving avail.idx
        // back and forth): the empty check and the re-check never agree.
        if (
          rechecking &&
          isEventq(this) === (queue === 'eventq') &&
          disagreements < DISAGREEMENTS
        ) {
          disagreements++;
          return (idx + 1) & 0xffff;
        }
        return idx;
      });
      try {
        if (queue === 'cmdq') driver.command(0, command(1));
        else driver.eventBuffer(0);
        const seen = await kickWithTaskBehind(() => disagreements);
        expect(seen).toBeGreaterThan(0);
        expect(seen).toBeLessThanOrEqual(2 * (queue === 'cmdq' ? CMDQ : EVENTQ));
        // Later tasks went on until the ring held still, with no other notification.
        expect(disagreements).toBe(DISAGREEMENTS);
        expect(clock.pendingTasks).toBe(0);
      } finally {
        loadSpy.mockRestore();
        enableSpy.mockRestore();
      }
      expect(device.stats.passesCutShort).toBeGreaterThan(0);
      expect(device.stats.badChains).toBe(0);
      if (queue === 'cmdq') {
        expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
        expect(driver.cmdq.loadUsedFlags()).toBe(0);
      } else {
        expect(device.eventBuffers).toBe(1);
        expect(driver.eventq.loadUsedFlags()).toBe(0);
        const notification = encodeMsg(
          buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
          new Uint8Array(8),
        );
        expect(platform.link?.post(notification)).toBe(true);
        expect(driver.usedEventq()).toEqual([{ id: 0, len: 12 }]);
      }
      done();
    },
  );

  it('should leave alone a queue reset before the rest of a pass cut short runs', async () => {
    const { clock, wire, platform, device, driver, done } = await setup(V1 | P2A);
    let handled = 0;
    const echo = platform.reply;
    platform.reply = (request) => {
      handled++;
      if (handled < 2 * CMDQ) driver.offerCmdq(0);
      else if (handled === 2 * CMDQ) {
        // The last command of the pass: head 0 is offered once more (the pass is out of budget
        // before it looks at it) and the driver resets the device, whose notification is
        // delivered before the rest of the pass runs.
        driver.offerCmdq(0);
        const r = wire.registers;
        r.write(VirtioRegister.STATUS_REQUEST, 0);
        r.increment(VirtioRegister.STATUS_SEQUENCE);
        driver.doorbells.notify.ring();
      }
      return echo(request);
    };
    driver.command(0, command(1));
    driver.doorbells.notify.ring();
    await clock.runTasks();
    expect(handled).toBe(2 * CMDQ);
    expect(device.stats.passesCutShort).toBe(1);
    expect(device.live).toBe(false);
    expect(wire.registers.read(VirtioRegister.DEVICE_STATUS)).toBe(0);
    // A new session: the queue is new, nothing of the old pass is taken.
    platform.reply = echo;
    await driver.start({ features: V1 | P2A });
    driver.command(0, command(2));
    await driver.kick();
    expect(handled).toBe(2 * CMDQ);
    expect(platform.requests).toHaveLength(2 * CMDQ + 1);
    expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
    expect(device.stats.passesCutShort).toBe(1);
    expect(clock.pendingTasks).toBe(0);
    done();
  });

  it('should publish at most the eventq size of elements at once when the driver offers a refused head again within the pass', async () => {
    const { wire, device, driver, done, isEventq } = await setup(V1 | P2A);
    // Head 0: a device-readable buffer, refused (eventq-readable) and returned with length 0.
    driver.eventq.writeDesc(0, driver.memory.allocate(16), 16, 0, 0);
    const REOFFERS = 12;
    let offered = 0;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
    const pop = DeviceVirtqueue.prototype.pop;
    const popSpy = jest.spyOn(DeviceVirtqueue.prototype, 'pop').mockImplementation(function (
      this: DeviceVirtqueue,
    ) {
      // The driver (another thread) offers head 0 again before each look.
      if (isEventq(this.ring) && offered < REOFFERS) {
        offered++;
        driver.offerEventq(0);
      }
      return pop.call(this);
    });
    const published: number[] = [];
    const read: { id: number; len: number }[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its ring as `this`
    const store = SplitRing.prototype.storeUsedIdx;
    const storeSpy = jest.spyOn(SplitRing.prototype, 'storeUsedIdx').mockImplementation(function (
      this: SplitRing,
      idx: number,
    ) {
      store.call(this, idx);
      if (this.layout.desc !== wire.layout.eventqBase) return;
      published.push(idx);
      read.push(...driver.usedEventq()); // the driver reads each publication
    });
    try {
      driver.offerEventq(0);
      await driver.kick();
    } finally {
      storeSpy.mockRestore();
      popSpy.mockRestore();
    }
    const moves = published.map((idx, i) => (idx - (published[i - 1] ?? 0)) & 0xffff);
    expect(Math.max(...moves)).toBeLessThanOrEqual(EVENTQ);
    expect(published.at(-1)).toBe(REOFFERS + 1);
    expect(read).toEqual(Array.from({ length: REOFFERS + 1 }, () => ({ id: 0, len: 0 })));
    expect(device.stats.badChainReasons).toEqual({ 'eventq-readable': REOFFERS + 1 });
    done();
  });
});
