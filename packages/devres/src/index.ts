/**
 * Device-managed resources for scmi-ts: register resources as a device acquires them; tear them
 * down in two phases — quiesce every resource newest first, then release every resource newest
 * first — so that no callback can ever run against released state.
 *
 * @packageDocumentation
 */
export type {
  DevresGroupState,
  DevresOptions,
  DevresState,
  LiveResource,
  ResourceHandle,
  ResourceSpec,
  ResourceState,
  StepOptions,
  TeardownStep,
} from './devres.js';
export type { DeviceState } from './device.js';
export type {
  DevresEvent,
  DevresEventSink,
  LeakGuard,
  LeakReport,
  ResourceTracker,
  TrackedResource,
} from './diagnostics.js';
export type { DevresErrorCode, ReleaseFailure } from './errors.js';
export type { RevocableGuard } from './revocable.js';
export type { TeardownReason } from './teardown-reason.js';

export { Devres, DevresGroup, DevresKey, ResourceScope, getReleaseFailure } from './devres.js';
export { Device, probe, remove } from './device.js';
export {
  DevresEventLog,
  LeakTracker,
  checkDevresSteps,
  ensureNoLeaksInSuite,
  formatDevresEvent,
  setResourceTracker,
} from './diagnostics.js';
export { DevresClosedError, DevresError, DevresReleaseError, RevokedError } from './errors.js';
export { Revocable, isPromiseLike } from './revocable.js';
export {
  DISPOSE_REASON,
  EARLY_RELEASE_REASON,
  REFUSED_REASON,
  REMOVE_REASON,
} from './teardown-reason.js';
