import type { PlatformConfig } from './platform-config.js';
import { validatePlatformConfig } from './validate-platform-config.js';

const MHZ = 1_000_000;

/**
 * The shipped configuration: a small SoC with vendor "scmi-ts", sub-vendor "emulated", and two
 * agents — "OSPM" (id 1, every protocol and domain) and "PSCI" (id 2, trusted: power, system power
 * and performance, limited to the CPU domains).
 *
 * Domains: power 0 `cpu-cluster0`, 1 `gpu`, 2 `display` (async); system power; performance 0
 * `cpu-cluster0` (4 levels), 1 `gpu` (3 levels); clocks 0 `cpu-pll` (range 200–2000 MHz, step
 * 100 MHz), 1 `uart` (list), 2 `gpu-core` (list, parents 0 and 3), 3 `periph-pll` (fixed);
 * sensors 0 `soc-temp` (sine, 2 trip points, async), 1 `cpu-volt` (sequence), 2 `gpu-current`
 * (ramp, update intervals 100–1000 ms), 3 `imu-accelerometer` (extended name, axes x, y, z,
 * timestamps in µs, update intervals 10/20/50/100 ms); resets 0 `gpu` (async), 1 `usb`, 2 `uart`;
 * voltage domains 0 `vddcore` (list 800–1000 mV in 50 mV steps, async level set), 1 `vdd-sd`
 * (triplet 1.8–3.3 V, step 100 mV, starts OFF), 2 `vdd-sdmmc-io-bank0-supply` (extended name, list
 * 1.8/3.3 V, implementation-defined mode 0x8). Devices 0 `cpu`, 1 `gpu`, 2 `uart`, 3 `sdmmc`
 * (voltage 1 and 2) group them.
 * Returns a fresh, validated, frozen object each time.
 *
 * @example
 * ```ts
 * const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock: new VirtualClock() });
 * ```
 */
export function createDefaultPlatformConfig(): PlatformConfig {
  return validatePlatformConfig({
    vendor: 'scmi-ts',
    subVendor: 'emulated',
    implementationVersion: 0x00010000,
    agents: [
      {
        id: 1,
        name: 'OSPM',
        protocols: ['power', 'system-power', 'performance', 'clock', 'sensor', 'reset', 'voltage'],
      },
      {
        id: 2,
        name: 'PSCI',
        protocols: ['power', 'system-power', 'performance'],
        domains: { power: [0], performance: [0] },
        trusted: true,
      },
    ],
    devices: [
      { name: 'cpu', domains: { power: [0], performance: [0], clock: [0] } },
      { name: 'gpu', domains: { power: [1], performance: [1], clock: [2], reset: [0] } },
      { name: 'uart', domains: { clock: [1], reset: [2] } },
      { name: 'sdmmc', domains: { voltage: [1, 2] } },
    ],
    powerDomains: [
      { name: 'cpu-cluster0' },
      { name: 'gpu', state: 0x40000000 },
      { name: 'display', states: [0, 0x40000000, 0x40000001], asyncSet: true },
    ],
    systemPower: { state: 3 },
    performanceDomains: [
      {
        name: 'cpu-cluster0',
        levels: [
          { value: 400_000, powerCost: 100, latencyUs: 50 },
          { value: 800_000, powerCost: 250, latencyUs: 50 },
          { value: 1_200_000, powerCost: 500, latencyUs: 100 },
          { value: 1_800_000, powerCost: 1000, latencyUs: 150 },
        ],
        level: 1_200_000,
        sustainedLevel: 1_200_000,
        sustainedFreqKhz: 1_200_000,
        rateLimitUs: 1000,
      },
      {
        name: 'gpu',
        levels: [
          { value: 200, powerCost: 300, latencyUs: 200 },
          { value: 400, powerCost: 700, latencyUs: 200 },
          { value: 600, powerCost: 1200, latencyUs: 300 },
        ],
        level: 200,
      },
    ],
    clocks: [
      {
        name: 'cpu-pll',
        rates: { min: 200 * MHZ, max: 2000 * MHZ, step: 100 * MHZ },
        rate: 1200 * MHZ,
      },
      { name: 'uart', rates: [19_200_000, 24 * MHZ, 48 * MHZ], rate: 24 * MHZ },
      {
        name: 'gpu-core',
        rates: [200 * MHZ, 400 * MHZ, 600 * MHZ],
        enabled: false,
        parents: [0, 3],
        enableLatencyUs: 20,
      },
      { name: 'periph-pll', rates: [600 * MHZ] },
    ],
    sensors: [
      {
        name: 'soc-temp',
        type: 2,
        unitExponent: -3,
        value: {
          kind: 'sine',
          offset: 45_000,
          amplitude: 15_000,
          periodMs: 10_000,
          noise: { amplitude: 200 },
        },
        tripPoints: 2,
        asyncRead: true,
        readLatencyMs: 2,
      },
      {
        name: 'cpu-volt',
        type: 5,
        unitExponent: -3,
        value: { kind: 'sequence', values: [800, 850, 900, 850], intervalMs: 500 },
      },
      {
        name: 'gpu-current',
        type: 6,
        unitExponent: -3,
        value: { kind: 'ramp', from: 100, to: 3000, periodMs: 5000 },
        tripPoints: 1,
        updateIntervalsMs: { min: 100, max: 1000, step: 100 },
        updateIntervalMs: 500,
      },
      {
        name: 'imu-accelerometer',
        type: 0x59, // m/s²
        unitExponent: -3,
        value: { kind: 'constant', value: 0 },
        axes: [
          { name: 'x', value: { kind: 'sine', offset: 0, amplitude: 500, periodMs: 2000 } },
          {
            name: 'y',
            value: { kind: 'sine', offset: 0, amplitude: 500, periodMs: 2000, phase: 0.25 },
          },
          { name: 'z', value: { kind: 'constant', value: 9807 } },
        ],
        timestamps: true,
        updateIntervalsMs: [10, 20, 50, 100],
        updateIntervalMs: 100,
      },
    ],
    resetDomains: [
      { name: 'gpu', latencyUs: 500, asyncReset: true },
      { name: 'usb', latencyUs: 100 },
      { name: 'uart' },
    ],
    voltageDomains: [
      {
        name: 'vddcore',
        levels: [800_000, 850_000, 900_000, 950_000, 1_000_000],
        level: 900_000,
        asyncLevelSet: true,
      },
      {
        name: 'vdd-sd',
        levels: { min: 1_800_000, max: 3_300_000, step: 100_000 },
        level: 3_300_000,
        config: 0x0,
      },
      {
        name: 'vdd-sdmmc-io-bank0-supply',
        levels: [1_800_000, 3_300_000],
        level: 3_300_000,
        implementationModes: [0],
      },
    ],
  });
}
