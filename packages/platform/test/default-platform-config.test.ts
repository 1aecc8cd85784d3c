import { createDefaultPlatformConfig, validatePlatformConfig } from '@scmi-ts/platform';

describe(createDefaultPlatformConfig, () => {
  it('should model a small SoC with two agents', () => {
    const c = createDefaultPlatformConfig();
    expect([c.vendor, c.subVendor]).toEqual(['scmi-ts', 'emulated']);
    expect(c.agents.map((a) => [a.id, a.name, a.trusted])).toEqual([
      [1, 'OSPM', false],
      [2, 'PSCI', true],
    ]);
    expect(c.agents[0]?.protocols).toHaveLength(7);
    expect(c.agents[1]?.protocols).toEqual(['power', 'system-power', 'performance']);
    expect([
      c.powerDomains?.length,
      c.performanceDomains?.length,
      c.clocks?.length,
      c.sensors?.length,
      c.resetDomains?.length,
      c.voltageDomains?.length,
    ]).toEqual([3, 2, 4, 4, 3, 3]);
  });

  it('should return a fresh valid object each time', () => {
    const a = createDefaultPlatformConfig();
    expect(a).not.toBe(createDefaultPlatformConfig());
    expect(validatePlatformConfig(JSON.parse(JSON.stringify(a)))).toEqual(a);
  });
});
