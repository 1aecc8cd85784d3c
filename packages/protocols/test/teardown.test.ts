import { ScmiShutdownError } from '@scmi-ts/core';
import { checkDevresSteps, DevresEventLog } from '@scmi-ts/devres';
import { PROTOCOL_DRIVERS, clockProtocolDriver, resetProtocolDriver } from '../src/index.js';
import { createHarness } from './support/harness.js';

describe('an agent removed while a protocol client waits for a delayed response', () => {
  it.each([
    ['RESET', 0x16, 0x4],
    ['CLOCK_RATE_SET', 0x14, 0x5],
  ])(
    '%s: the call fails with the shutdown, and the delayed response released after the teardown is dropped and counted',
    async (_name, protocolId, messageId) => {
      // A manual clock: the agent is removed while the delayed response is held, before the
      // transfer's 2 s deadline (an auto clock would jump to it as soon as the test awaits).
      const h = createHarness({
        auto: false,
        drivers: PROTOCOL_DRIVERS,
        platformFaults: [
          {
            match: { stage: 'delayed-response', protocolId, messageId },
            action: { kind: 'hold', maxHoldMs: 60_000 },
          },
        ],
      });
      const log = new DevresEventLog();
      const agent = await h.create({ log: log.sink });
      const pending =
        protocolId === 0x16
          ? agent.protocol(resetProtocolDriver).reset(0)
          : agent.protocol(clockProtocolDriver).setRate(0, 400_000_000n, { async: true });
      const settled = pending.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await h.clock.advance(10); // the command answered, its delayed response held
      expect(h.platform.faults.log.map((f) => f.kind)).toEqual(['hold']);
      const removing = agent.remove();
      await h.clock.advance(10);
      await removing;
      const error = await settled;
      expect(ScmiShutdownError.is(error)).toBe(true);
      // The platform sends the delayed response now, after every channel was released.
      expect(h.platform.releaseHeldResponses()).toBe(1);
      await h.clock.advance(10);
      const p2a = h.mailbox.wire.monitor.channels.find((c) => c.label === 'p2a:0');
      expect(p2a?.ignoredRings).toBe(1);
      // Every step of the teardown ended, no release overlapping a quiesce.
      expect(checkDevresSteps(log.events)).toEqual([]);
      await h.close();
    },
  );
});
