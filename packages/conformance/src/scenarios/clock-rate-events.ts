import type { ScmiAgent } from '@scmi-ts/core';
import { u32s } from '../words.js';

/** The Clock protocol's id. @internal */
export const CLOCK = 0x14;
/** CLOCK_RATE_CHANGED, the Clock protocol's notification 0x0. @internal */
export const CLOCK_RATE_CHANGED = 0x0;
/** CLOCK_RATE_NOTIFY: clock id, notify enable. @internal */
export const CLOCK_RATE_NOTIFY = 0x9;

/**
 * Registers CLOCK_RATE_CHANGED with `agent`'s notification hub, as a Clock driver would: its
 * payload is agent id, clock id and the rate (two words), 16 bytes exactly — the wire must carry it
 * whole — and subscribing enables it on the platform with CLOCK_RATE_NOTIFY. @internal
 */
export function registerClockRateChanged(agent: ScmiAgent): void {
  agent.events.register(CLOCK, [
    {
      id: CLOCK_RATE_CHANGED,
      name: 'clock-rate-changed',
      minPayload: 16,
      maxPayload: 16,
      setNotifyEnabled: async (source, enable) => {
        await agent.transact(CLOCK, CLOCK_RATE_NOTIFY, u32s(source ?? 0, enable ? 1 : 0));
      },
    },
  ]);
}
