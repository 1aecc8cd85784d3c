/**
 * The Voltage client against the emulated platform's own Voltage server (`@scmi-ts/platform`,
 * its default configuration), over the mailbox wire: two implementations of the same wire, written
 * apart from Linux's voltage.c, OP-TEE's and SCP-firmware's servers, checked against each other.
 * (voltage-protocol.test.ts drives the client against a test fake, for the replies no sound
 * platform sends.)
 */
import { ScmiError, ScmiStatus, ScmiStatusError, ScmiTransportError } from '@scmi-ts/core';
import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';
import {
  VOLTAGE_CONFIG_OFF,
  VOLTAGE_CONFIG_ON,
  VOLTAGE_CONFIG_VENDOR,
  voltageProtocolDriver,
  type VoltageProtocol,
} from '../src/index.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';
import { spyRequests } from './support/spy-requests.js';

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value');
  return value;
}

describe('Voltage client against the emulated platform', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(options: HarnessOptions = {}): Promise<VoltageProtocol> {
    h = createHarness({ drivers: [voltageProtocolDriver], ...options });
    const agent = await h.create();
    return agent.protocol(voltageProtocolDriver);
  }

  it('describes the default configuration’s domains at init: names, levels as a list or a range, async support', async () => {
    const voltage = await probe();
    // The platform speaks 2.1 (SCMI v3.2); the client, written for 2.0 as Linux's, negotiates it.
    expect(voltage.version).toBe(0x20000);
    expect(voltage.domains.failures.size).toBe(0);
    expect(voltage.domains.list).toEqual([
      {
        id: 0,
        name: 'vddcore',
        asyncLevelSet: true,
        negativeVolts: false,
        levels: { kind: 'list', microvolts: [800_000, 850_000, 900_000, 950_000, 1_000_000] },
      },
      {
        id: 1,
        name: 'vdd-sd',
        asyncLevelSet: false,
        negativeVolts: false,
        levels: {
          kind: 'range',
          minMicrovolts: 1_800_000,
          maxMicrovolts: 3_300_000,
          stepMicrovolts: 100_000,
        },
      },
      {
        // Longer than 15 characters: the extended name, by VOLTAGE_DOMAIN_NAME_GET.
        id: 2,
        name: 'vdd-sdmmc-io-bank0-supply',
        asyncLevelSet: false,
        negativeVolts: false,
        levels: { kind: 'list', microvolts: [1_800_000, 3_300_000] },
      },
    ]);
  });

  it('sets and reads levels: asynchronously with a delayed response where the domain announces it, synchronously otherwise', async () => {
    const voltage = await probe();
    const sets = spyRequests(defined(h), 0x17, 0x7); // VOLTAGE_LEVEL_SET: domain, flags, level
    expect(await voltage.levelGet(0)).toBe(900_000);
    await expect(voltage.levelSet(0, 950_000)).resolves.toEqual({
      async: true,
      microvolts: 950_000,
    });
    expect(await voltage.levelGet(0)).toBe(950_000);
    await expect(voltage.levelSet(0, 800_000, { async: false })).resolves.toEqual({
      async: false,
      microvolts: undefined,
    });
    expect(await voltage.levelGet(0)).toBe(800_000);
    // A range domain: any step from its low level.
    await voltage.levelSet(1, 2_500_000);
    expect(await voltage.levelGet(1)).toBe(2_500_000);
    // Asynchronous where the domain does not announce it: refused by the client, nothing sent.
    await expect(voltage.levelSet(1, 1_800_000, { async: true })).rejects.toMatchObject({
      code: 'E_NOT_SUPPORTED',
    });
    expect(sets).toEqual([
      [0, 1, 950_000],
      [0, 0, 800_000],
      [1, 0, 2_500_000],
    ]);
  });

  it('says the agent has no P2A channel when asked for an asynchronous set without one, not that the domain does not announce it', async () => {
    const voltage = await probe({ wire: { a2p: [0], p2a: [] } });
    // The platform announces no asynchronous set on a link that cannot carry its delayed response.
    expect(voltage.domains.info(0).asyncLevelSet).toBe(false);
    const e = await voltage.levelSet(0, 800_000, { async: true }).catch((error: unknown) => error);
    expect(e).toBeInstanceOf(ScmiTransportError);
    expect(e).toMatchObject({ code: 'E_NOT_SUPPORTED' });
    await expect(voltage.levelSet(0, 800_000)).resolves.toEqual({
      async: false,
      microvolts: undefined,
    });
  });

  it('gets the platform’s refusals as typed status errors, the level left as it was', async () => {
    const voltage = await probe();
    // Between the list's levels, and off the range's steps: INVALID_PARAMETERS.
    for (const [id, uv] of [
      [0, 875_000],
      [1, 2_550_000],
      [1, 3_400_000],
    ] as const) {
      const e = await voltage.levelSet(id, uv, { async: false }).catch((error: unknown) => error);
      expect(e).toBeInstanceOf(ScmiStatusError);
      expect(e).toMatchObject({ status: ScmiStatus.INVALID_PARAMETERS });
    }
    expect(await voltage.levelGet(0)).toBe(900_000);
    expect(await voltage.levelGet(1)).toBe(3_300_000);
    // A domain the platform does not have: the client refuses it first (its domain table).
    await expect(voltage.levelGet(3)).rejects.toBeInstanceOf(ScmiError);
  });

  it('switches a domain off and on with its configuration mode, and keeps an implementation-defined mode', async () => {
    const voltage = await probe();
    // vdd-sd starts OFF in the default configuration.
    expect(await voltage.configGet(1)).toBe(VOLTAGE_CONFIG_OFF);
    expect(await voltage.isEnabled(1)).toBe(false);
    await voltage.enable(1);
    expect([await voltage.configGet(1), await voltage.isEnabled(1)]).toEqual([
      VOLTAGE_CONFIG_ON,
      true,
    ]);
    await voltage.disable(1);
    expect(await voltage.isEnabled(1)).toBe(false);
    // The third domain knows implementation-defined mode 0 (0x8 | 0).
    await voltage.configSet(2, VOLTAGE_CONFIG_VENDOR | 0);
    expect(await voltage.configGet(2)).toBe(VOLTAGE_CONFIG_VENDOR);
    // One it does not know: INVALID_PARAMETERS, the mode left as it was.
    await expect(voltage.configSet(2, VOLTAGE_CONFIG_VENDOR | 3)).rejects.toMatchObject({
      status: ScmiStatus.INVALID_PARAMETERS,
    });
    expect(await voltage.configGet(2)).toBe(VOLTAGE_CONFIG_VENDOR);
  });

  it('gets DENIED for the domains its agent may not use, and uses the others', async () => {
    const config = createDefaultPlatformConfig();
    // Agent 1 without device 3 (sdmmc: voltage domains 1 and 2).
    const voltage = await probe({
      platformConfig: validatePlatformConfig({
        ...config,
        agents: config.agents.map((a) => (a.id === 1 ? { ...a, domains: { voltage: [0] } } : a)),
      }),
    });
    expect(voltage.domains.info(0).name).toBe('vddcore');
    await expect(voltage.levelSet(0, 1_000_000)).resolves.toMatchObject({ async: true });
    for (const id of [1, 2]) {
      const e = await voltage.levelGet(id).catch((error: unknown) => error);
      expect(e).toBeInstanceOf(ScmiStatusError);
      expect(e).toMatchObject({ status: ScmiStatus.DENIED });
    }
  });
});
