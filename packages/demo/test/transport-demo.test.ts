import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';
import { mailboxDemo } from '../src/mailbox-demo.js';
import { opteeDemo } from '../src/optee-demo.js';
import { peerPortDemo } from '../src/peer-port-demo.js';
import { runTransportDemo } from '../src/transport-demo.js';
import type { TransportDemoSetup } from '../src/transport-demo-setup.js';
import { virtioDemo } from '../src/virtio-demo.js';

/** The seed scenario's teardown steps as `kind resource`, in the order printed. */
function teardownSteps(lines: readonly string[]): string[] {
  const start = lines.findIndex((l) => l.includes('teardown log'));
  return lines
    .slice(start + 1)
    .filter((l) => /^ {4}\s*[\d.]+ {2}(quiesce|release) /.test(l))
    .map((l) => {
      const [, kind, , ...rest] = l.trim().split(/\s+/);
      return [kind, ...rest.slice(0, -1)].join(' ');
    });
}

async function run(setup: TransportDemoSetup): Promise<{ lines: string[]; out: string }> {
  const lines: string[] = [];
  await runTransportDemo((l) => lines.push(l), setup);
  return { lines, out: lines.join('\n') };
}

function expectDiscovery(out: string): void {
  // The platform answered every command of agent 1's probe with SUCCESS (a NOT_FOUND for a
  // message the client looked for and the platform lacks is its answer too).
  expect(out).toMatch(/platform, for agent 1\s+\d+ requests: SUCCESS \d+/);
  expect(out).toMatch(/vendor\s+scmi-ts/);
  expect(out).toMatch(/sub-vendor\s+emulated/);
  // SCMI v3.2 versions: Base 2.1, the x.1 minors, Clock 3.0.
  expect(out).toMatch(/Base protocol version\s+2\.1/);
  expect(out).toMatch(/0x11 power\s+v3\.1/);
  expect(out).toMatch(/0x12 system\s+v2\.1/);
  expect(out).toMatch(/0x14 clock\s+v3\.0/);
  expect(out).toMatch(/DISCOVER_AGENT\(2\)\s+PSCI/);
  expect(out).toMatch(/raw 0x14 CLOCK_ATTRIBUTES\(0\)\s+"cpu-pll"/);
  expect(out).toMatch(/raw 0x13 PERF_LEVEL_GET\(0\)\s+\d+/);
  // The protocol clients: what each described at probe, and a command of each.
  expect(out).toMatch(/power domains\s+cpu-cluster0 on, gpu off, display on\n/);
  expect(out).toMatch(/system power state\s+POWER_UP \(3\)/);
  expect(out).toMatch(
    /performance domains \(v3\.0\)\s+cpu-cluster0 level \d+ of 4, gpu level \d+ of 3\n/,
  );
  expect(out).toMatch(
    /clocks\s+cpu-pll \d+ MHz, uart 24 MHz, gpu-core \d+ MHz, periph-pll 600 MHz\n/,
  );
  expect(out).toMatch(/sensor reading\s+soc-temp -?\d+\.\d{3} °C /);
  expect(out).toMatch(/reset\s+gpu /);
}

/** Each A2P channel's counters: every command sent completed, none timed out or failed. */
function expectA2pCountersClean(out: string, label: string): void {
  const m = new RegExp(
    `${label} {2}sent +(\\d+) {2}completed +(\\d+) {2}timeouts 0 {2}failed 0 `,
  ).exec(out);
  expect(m).not.toBeNull();
  expect(Number(m?.[1])).toBeGreaterThan(0);
  expect(m?.[2]).toBe(m?.[1]);
}

function expectSeedScenario(lines: readonly string[], out: string, quiesced: string[]): void {
  expect(out).toMatch(/probe failed after [\d.]+ ms: E_TIMEOUT/);
  const steps = teardownSteps(lines);
  const quiesce = steps.filter((s) => s.startsWith('quiesce '));
  const release = steps.filter((s) => s.startsWith('release '));
  // Every quiesce before any release; both newest first.
  expect(steps).toEqual([...quiesce, ...release]);
  expect(quiesce.map((s) => s.slice('quiesce '.length))).toEqual(quiesced);
  expect(out).toMatch(/the platform's late reply /);
  expect(out).toMatch(/callbacks on released channels\s+0/);
  expect(out).toMatch(/platform timers left\s+0/);
  expect(lines.filter((l) => /callbacks on released channels\s+0/.test(l))).toHaveLength(2);
}

describe(runTransportDemo, () => {
  ensureNoLeaksInSuite();

  describe('with the mailbox transport', () => {
    it('should show discovery, counters, and the seed scenario torn down quiesce-first, newest first', async () => {
      const { lines, out } = await run(mailboxDemo);
      expect(lines[0]).toBe(
        '=== mailbox: SMT shared memory + mailbox doorbells, platform in a worker ===',
      );
      expectDiscovery(out);
      for (const label of ['a2p:0', 'a2p:1', 'a2p:2']) expectA2pCountersClean(out, label);
      // The refusals the agent counted (a sensor without update intervals: NOT_SUPPORTED), as many
      // as the platform says it answered.
      const notSupported = [...out.matchAll(/[ap]2[ap]:\d .* refused: .*NOT_SUPPORTED (\d+)/g)];
      const answered = /platform, for agent 1 .*NOT_SUPPORTED (\d+)/.exec(out);
      const counted = notSupported.reduce((sum, m) => sum + Number(m[1]), 0);
      expect(counted).toBeGreaterThan(0);
      expect(counted).toBe(Number(answered?.[1]));
      expect(out).toMatch(
        /sensor reading\s+soc-temp -?\d+\.\d{3} °C \(asynchronous: delayed response\)/,
      );
      expect(out).toMatch(/reset\s+gpu \(asynchronous: delayed response\)/);
      // The platform worker's fast channels, in the memory the agent maps: a level written there
      // and read back once the platform's poll applied it, no message sent.
      expect(out).toMatch(
        /performance fast channels\s+cpu-cluster0: LEVEL_SET 0x40000000, LIMITS_SET 0x40000004, LEVEL_GET 0x4000000c, LIMITS_GET 0x40000010; rate limit 1000 µs\n/,
      );
      expect(out).toMatch(
        /fast-channel LEVEL_SET\(0\)\s+cpu-cluster0 \d+ → \d+, no message: read back from LEVEL_GET after [\d.]+ ms/,
      );
      // The default platform's voltage domains (vdd-sd starts OFF), the long name in full.
      expect(out).toMatch(
        /voltage domains\s+vddcore 900 mV on, vdd-sd 3300 mV off, vdd-sdmmc-io-bank0-supply 3300 mV on\n/,
      );
      expect(out).toMatch(/notification CLOCK_RATE_CHANGED\(0\)\s+600 MHz \(p2a:0\)/);
      // The notification just shown is in p2a:0's counters (it sends nothing).
      expect(out).toMatch(
        /p2a:0 {2}notifications [1-9]\d* {2}delayed responses \d+ {2}bad messages 0/,
      );
      expectSeedScenario(lines, out, [
        'agent gate',
        'channel p2a:0',
        'channel a2p:0',
        'transfers',
        'notifications',
      ]);
      expect(out).toMatch(
        /late reply landed (while the channel was still open|after the channel quiesced|after the channel was released)/,
      );
      expect(out).toMatch(/lateReplies (\d), refusedAfterQuiesce (\d), dropped after release (\d)/);
      const [, late, refused, dropped] =
        /lateReplies (\d), refusedAfterQuiesce (\d), dropped after release (\d)/.exec(out) ?? [];
      expect(Number(late) + Number(refused) + Number(dropped)).toBe(1);
      expect(out).toMatch(/SMT channels freed\s+a2p:0 ×1, p2a:0 ×1\n/);
      expect(lines.at(-1)).toBe('mailbox: platform worker stopped; done.');
    });
  });

  describe('with the virtio transport', () => {
    it('should show discovery, a notification on the eventq, and the late reply accounted for', async () => {
      const { lines, out } = await run(virtioDemo);
      expect(lines[0]).toMatch(/^=== virtio: /);
      expectDiscovery(out);
      expect(out).toMatch(/notification CLOCK_RATE_CHANGED\(0\)\s+600 MHz \(p2a:0\)/);
      expectA2pCountersClean(out, 'a2p:0');
      expectSeedScenario(lines, out, [
        'agent gate',
        'channel p2a:0',
        'channel a2p:0',
        'virtio device',
        'transfers',
        'notifications',
      ]);
      expect(out).toMatch(/virtqueues freed \(driver\)\s+a2p:0 ×1, p2a:0 ×1/);
      expect(out).toMatch(/driver state, buffers\s+closed; 0 allocated, 0 leaked/);
      expect(out).toMatch(/reclaimed after reset [1-9]/);
      // Wherever the late reply went, a counter says so.
      expect(out).toMatch(/platform: cancelled on disconnect \d+/);
      expect(out).not.toMatch(/was not seen anywhere/);
      expect(lines.at(-1)).toBe('virtio: platform worker stopped; done.');
    });
  });

  describe('with the OP-TEE transport', () => {
    it('should show discovery without notifications, and the late invocation awaited by quiesce', async () => {
      const { lines, out } = await run(opteeDemo);
      expect(lines[0]).toMatch(/^=== optee: /);
      expectDiscovery(out);
      expect(out).toMatch(/notifications\s+none: subscribe → E_NOT_SUPPORTED/);
      expect(out).not.toMatch(/p2a:0 {2}sent/);
      for (const label of ['a2p:0', 'a2p:1']) expectA2pCountersClean(out, label);
      // No P2A channel: no delayed response, so the platform announces none.
      expect(out).toMatch(/sensor reading\s+soc-temp -?\d+\.\d{3} °C \(synchronous\)/);
      expect(out).toMatch(/reset\s+gpu \(synchronous\)/);
      expectSeedScenario(lines, out, ['agent gate', 'channel a2p:0', 'transfers', 'notifications']);
      expect(teardownSteps(lines)).toContain('release optee context');
      // The invocation returned late, once, and was counted — before anything was released.
      expect(out).toMatch(
        /late returns 1 \(lateReplies (0, refusedAfterQuiesce 1|1, refusedAfterQuiesce 0)\)/,
      );
      expect(out).toMatch(/TEE sessions, registered shm left\s+0, 0/);
      expect(lines.at(-1)).toBe('optee: platform worker stopped; done.');
    });
  });

  describe('with the peer-port transport', () => {
    it('should show discovery and a notification over loopback TCP, and the late reply counted on the connection', async () => {
      const { lines, out } = await run(peerPortDemo);
      expect(lines[0]).toMatch(/^=== peer-port: /);
      expect(out).toMatch(
        /wire: a2p:0 \(kind-1 frames\), p2a:0 \(kind-3 frames\) over 127\.0\.0\.1:\d+/,
      );
      expectDiscovery(out);
      expect(out).toMatch(/notification CLOCK_RATE_CHANGED\(0\)\s+600 MHz \(p2a:0\)/);
      expectA2pCountersClean(out, 'a2p:0');
      expect(out).toMatch(/reset\s+gpu \(asynchronous: delayed response\)/);
      expectSeedScenario(lines, out, [
        'agent gate',
        'channel p2a:0',
        'channel a2p:0',
        'transfers',
        'notifications',
      ]);
      expect(teardownSteps(lines)).toContain('release peer-port connection');
      // The late reply came once, and went to no channel of the agent's.
      expect(out).toMatch(/counted\s+frames received 1, undelivered [01]\n/);
      expect(out).not.toMatch(/was not seen on the connection/);
      expect(lines.at(-1)).toBe('peer-port: platform worker stopped; done.');
    });
  });
});

describe("runTransportDemo with a platform configuration of the user's", () => {
  ensureNoLeaksInSuite();
  const MHZ = 1_000_000;

  it('shows what the agent can use — Performance 4.0 in level indexing mode — and says what it cannot', async () => {
    const platformConfig = validatePlatformConfig({
      vendor: 'acme',
      subVendor: 'soc',
      implementationVersion: 1,
      agents: [{ id: 1, name: 'linux', protocols: ['performance', 'clock'] }],
      performanceVersion: 0x40000,
      performanceDomains: [
        {
          name: 'big',
          levelIndexing: true,
          levels: [
            { value: 1, powerCost: 10, latencyUs: 5, indicativeFreqKhz: 500_000, index: 7 },
            { value: 2, powerCost: 20, latencyUs: 5, indicativeFreqKhz: 1_000_000, index: 9 },
          ],
        },
      ],
      clocks: [{ name: 'sys', rates: [100 * MHZ, 200 * MHZ], rate: 100 * MHZ }],
    });
    const lines: string[] = [];
    await runTransportDemo((l) => lines.push(l), mailboxDemo, { platformConfig });
    const out = lines.join('\n');
    expect(out).toMatch(/vendor\s+acme/);
    expect(out).toMatch(/DISCOVER_AGENT\(1\)\s+linux/);
    expect(out).toMatch(
      /not available to this agent\s+power, system-power, sensor, reset, voltage\n/,
    );
    expect(out).toMatch(/performance domains \(v4\.0\)\s+big level 2 of 2 \(level indexing\)\n/);
    expect(out).toMatch(/raw 0x13 PERF_LEVEL_GET\(0\)\s+9 /); // the index, raw
    // Its fast channels carry indices; the client speaks values.
    expect(out).toMatch(/fast-channel LEVEL_SET\(0\)\s+big 2 → 1, no message: read back/);
    expect(out).toMatch(/clocks\s+sys 100 MHz\n/);
    // 600 MHz is not one of its rates: the other one.
    expect(out).toMatch(/notification CLOCK_RATE_CHANGED\(0\)\s+200 MHz \(p2a:0\)/);
    expect(out).not.toMatch(/^ +(power domains|system power state|sensor reading|reset) /m);
    expectSeedScenario(lines, out, [
      'agent gate',
      'channel p2a:0',
      'channel a2p:0',
      'transfers',
      'notifications',
    ]);
  });

  it('shows the status of a command the platform refuses on its row, and the part still passes', async () => {
    const base = createDefaultPlatformConfig();
    const [ospm, psci] = base.agents;
    if (ospm === undefined || psci === undefined) throw new Error('agents');
    const platformConfig = validatePlatformConfig({
      ...base,
      // Agent 1 may not use clock 0 nor performance domain 0 nor voltage domain 1; the first
      // sensor is disabled; voltage domain 2 starts in its implementation-defined mode 0.
      agents: [{ ...ospm, domains: { clock: [1, 2, 3], performance: [1], voltage: [0, 2] } }, psci],
      sensors: (base.sensors ?? []).map((s, i) => (i === 0 ? { ...s, enabled: false } : s)),
      voltageDomains: (base.voltageDomains ?? []).map((v, i) =>
        i === 2 ? { ...v, config: 0x8 } : v,
      ),
    });
    const lines: string[] = [];
    await runTransportDemo((l) => lines.push(l), mailboxDemo, { platformConfig });
    const out = lines.join('\n');
    // Discovery answers for a clock the agent may not use; its rate does not.
    expect(out).toMatch(/raw 0x14 CLOCK_ATTRIBUTES\(0\)\s+"cpu-pll"/);
    expect(out).toMatch(/raw 0x13 PERF_LEVEL_GET\(0\)\s+DENIED/);
    expect(out).toMatch(
      /performance domains \(v3\.0\)\s+cpu-cluster0 level DENIED of 4, gpu level \d+/,
    );
    expect(out).toMatch(/clocks\s+cpu-pll DENIED, uart 24 MHz/);
    expect(out).toMatch(/sensor reading\s+soc-temp NOT_SUPPORTED/);
    // A voltage domain refused once, not for its level and its mode; a mode that is neither on
    // nor off shown as it is.
    expect(out).toMatch(
      /voltage domains\s+vddcore 900 mV on, vdd-sd DENIED, vdd-sdmmc-io-bank0-supply 3300 mV mode 0x8\n/,
    );
    // The platform's side of the same refusals.
    expect(out).toMatch(
      /platform, for agent 1\s+\d+ requests: SUCCESS \d+.*, NOT_SUPPORTED \d+, DENIED \d+/,
    );
    // The notification on the first clock this agent may change: clock 1 (uart).
    expect(out).toMatch(/notification CLOCK_RATE_CHANGED\(1\)\s+\d+(\.\d+)? MHz \(p2a:0\)/);
  });
});
