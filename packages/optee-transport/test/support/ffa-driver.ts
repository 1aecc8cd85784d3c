import type { TeeDriver } from '../../src/index.js';

/**
 * `driver` without its `systemSession` operation, as Linux's OP-TEE driver over the FF-A ABI
 * (its ops table has no `system_session`: `tee_client_system_session` answers `-EINVAL`); every
 * other operation is the driver's own.
 */
export function withoutSystemSessions(driver: TeeDriver): TeeDriver {
  return {
    implementation: driver.implementation,
    get closed() {
      return driver.closed;
    },
    openSession: driver.openSession.bind(driver),
    invoke: driver.invoke.bind(driver),
    submit: driver.submit.bind(driver),
    cancel: driver.cancel.bind(driver),
    closeSession: driver.closeSession.bind(driver),
    allocSharedMemory: driver.allocSharedMemory.bind(driver),
  };
}
