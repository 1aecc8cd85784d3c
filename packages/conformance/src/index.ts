/**
 * The transport conformance kit: one jest suite every transport runs
 * ({@link runTransportConformance}), the scenarios it is made of (usable on their own), the
 * instrumentation that detects callbacks against released state, and the `pnpm stress` runner.
 *
 * @packageDocumentation
 */
export type {
  FixtureEnds,
  SameThreadFixtureContext,
  TransportFixture,
  TransportFixtureCapabilities,
  WorkerFixtureContext,
  WorkerFixtureSession,
} from './fixture.js';
export { FixtureCapabilityError } from './fixture.js';
export type { ChannelRecord, InstrumentedChannelState } from './instrument.js';
export type { RigOptions } from './rig.js';
export type { ConformanceOptions } from './run-transport-conformance.js';
export type { PortMessage } from './holding-port.js';
export type {
  HostileKindTotals,
  HostileWorkerOptions,
  HostileWorkerResult,
} from './scenarios/hostile-replies.js';
export type {
  ObservedSeedPhase,
  SeedPhase,
  SeedRunResult,
  SeedWorkerOptions,
  SeedWorkerResult,
  SeedWorkerTrace,
} from './scenarios/seed-scenario.js';

export { HoldingPlatformPort } from './holding-port.js';
export { CountingClock, TransportInstrument, checkTeardownLog } from './instrument.js';
export { AGENT_ID, SameThreadRig, buildContainer } from './rig.js';
export { runTransportConformance } from './run-transport-conformance.js';
export {
  HOSTILE_ACTIONS,
  hostileActionName,
  hostileReplyReachesAgent,
  runHostileRepliesWorker,
} from './scenarios/hostile-replies.js';
export {
  SEED_WORKER_PHASES,
  expectedSeedPhase,
  runSeedScenarioSameThread,
  runSeedScenarioWorker,
  seedWorkerPhase,
} from './scenarios/seed-scenario.js';
export {
  INTERLEAVING_OUTCOMES,
  lateReplyCoverageHint,
  runInterleavingSimulation,
} from './scenarios/interleaving-simulator.js';
export type {
  InterleavingOptions,
  InterleavingResult,
} from './scenarios/interleaving-simulator.js';
export { runNotificationTeardownSameThread } from './scenarios/notification-teardown.js';
export { PROBE_ABORT_AFTER_MS, runProbeAbortSameThread } from './scenarios/probe-abort.js';
export type { ProbeAbortResult } from './scenarios/probe-abort.js';
export { runDelayedResponseRaceWorker } from './scenarios/delayed-response-race.js';
export type {
  DelayedResponseRaceOptions,
  DelayedResponseRaceResult,
} from './scenarios/delayed-response-race.js';
export type {
  NotificationTeardownPhase,
  NotificationTeardownResult,
} from './scenarios/notification-teardown.js';
export { runPlatformDeathWorker } from './scenarios/platform-death.js';
export type {
  PlatformDeathOptions,
  PlatformDeathPending,
  PlatformDeathResult,
} from './scenarios/platform-death.js';
export { withSeedOnFailure } from './scenarios/seed-on-failure.js';
export { seedFromEnv } from './seed-from-env.js';
export {
  MIN_SCHEDULES_TO_RACE,
  hostileCampaignShortfalls,
  interleavingCampaignShortfalls,
  raceCampaignShortfalls,
  raceCoverageRuns,
} from './scenarios/campaign-acceptance.js';
export { LATE_GRACE_MS, LateViolationWatch } from './late-violations.js';
export type { RaceCampaignOutcome } from './scenarios/campaign-acceptance.js';
export { waitUntil } from './wait-until.js';
