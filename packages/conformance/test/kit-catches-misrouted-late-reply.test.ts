/**
 * The kit must catch a transport that hands a late reply (one whose transfer timed out) to the next
 * transfer: no token check, the wrong transfer completed. The broken fixture is core's loopback
 * with its A2P channels misrouting such a reply (see `misroutedLateReplyFixture`).
 *
 * No exported scenario function checks that a transfer got its own answer: the kit's direct check
 * is the late-reply case of `runTransportConformance`, which is not exported on its own. It is
 * captured here (registered with collectors instead of jest, see `captureCases`) and run against
 * the broken fixture, so that this suite holds no failing case. The seeded interleaving simulator
 * catches it too, deterministically from a fixed seed: a command that fails on another command's
 * payload, or whose answer (checked against the platform's configuration) is another's. (The seed scenario cannot catch it: its late
 * reply lands while the failed probe tears down, with no transfer in flight to misroute it to.)
 */
import { runInterleavingSimulation, type TransportFixture } from '@scmi-ts/conformance';
import { misroutedLateReplyFixture, type MisrouteRecord } from './support/broken-fixtures.js';
import {
  conformanceCase,
  runCase,
  type CapturedCase,
} from './support/capture-conformance-cases.js';

const LATE_REPLY_CASE =
  'should time out, count the late reply, and leave the next transfer unaffected';

/** The kit's case `LATE_REPLY_CASE` for `fixture`, as `runTransportConformance` would register it. */
const lateReplyCase = (fixture: TransportFixture): CapturedCase =>
  conformanceCase(fixture, LATE_REPLY_CASE);

describe('the conformance kit, over a transport that hands a late reply to the next transfer', () => {
  describe("runTransportConformance's late-reply case", () => {
    it('should fail: the next transfer was completed with the late reply (clock 1: 24 MHz, not clock 0: 1200 MHz)', async () => {
      const record: MisrouteRecord = { misrouted: 0 };
      const failure = await runCase(
        lateReplyCase(misroutedLateReplyFixture({ broken: true }, record)),
      );
      expect(failure).toMatch(/Expected: 1200000000\s+Received: 24000000/);
      // The premise: the fixture did hand the late reply to another transfer.
      expect(record.misrouted).toBeGreaterThan(0);
    });

    it('should pass over the same decorated loopback when it checks the token', async () => {
      const record: MisrouteRecord = { misrouted: 0 };
      const failure = await runCase(
        lateReplyCase(misroutedLateReplyFixture({ broken: false }, record)),
      );
      expect(failure).toBeUndefined();
      expect(record.misrouted).toBe(0);
    });
  });

  describe(runInterleavingSimulation, () => {
    // Fixed seeds: the same schedules every time (same-thread, virtual clock).
    const options = { seed: 20261202, schedules: 30 };

    it('should report the commands that failed on a misrouted late reply, naming their seeds', async () => {
      const record: MisrouteRecord = { misrouted: 0 };
      const r = await runInterleavingSimulation(
        misroutedLateReplyFixture({ broken: true }, record),
        options,
      );
      expect(record.misrouted).toBeGreaterThan(0);
      expect(r.violations.length).toBeGreaterThan(0);
      // A command handed another command's reply fails to parse it: a typed error the simulator
      // does not allow (only success, timeout, shutdown or busy are).
      expect(r.violations).toContainEqual(
        expect.stringMatching(/^schedule seed \d+: a command failed with ScmiMalformedError/),
      );
      // A misrouted answer that parses is caught too: each answer is checked against the platform.
      expect(r.violations).toContainEqual(
        expect.stringMatching(/^schedule seed \d+: a command got another's answer: /),
      );
    });

    it('should report nothing over the same decorated loopback when it checks the token', async () => {
      const record: MisrouteRecord = { misrouted: 0 };
      const r = await runInterleavingSimulation(
        misroutedLateReplyFixture({ broken: false }, record),
        options,
      );
      expect(r.violations).toEqual([]);
      expect(r.lateRepliesCounted).toBeGreaterThan(0);
      expect(record.misrouted).toBe(0);
    });
  });
});
