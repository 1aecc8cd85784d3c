import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScmiProtocolId } from '@scmi-ts/core';
import {
  PerformanceMessageId,
  createDefaultPlatformConfig,
  loadPlatformConfig,
  validatePlatformConfig,
} from '@scmi-ts/platform';
import { Harness } from './support/harness';

/** The example configurations shipped in `examples/`. */
const examples = join(__dirname, '..', 'examples');
const example = (name: string): string => join(examples, name);

describe('example configurations', () => {
  it.each(['default.platform.json', 'perf-v4.platform.json'])(
    'should load %s with loadPlatformConfig',
    (name) => {
      expect(() => loadPlatformConfig(example(name))).not.toThrow();
    },
  );

  it('should keep default.platform.json equal to createDefaultPlatformConfig()', () => {
    // Regenerate after changing the default configuration:
    // JSON.stringify(createDefaultPlatformConfig(), null, 2), then prettier.
    const text = readFileSync(example('default.platform.json'), 'utf8');
    expect(validatePlatformConfig(JSON.parse(text))).toEqual(createDefaultPlatformConfig());
    // Written out in full: every default is in the file, none left for the validator to fill in.
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(createDefaultPlatformConfig())));
  });

  it('should show Performance 4.0 with a domain in level indexing mode in perf-v4.platform.json', () => {
    const config = loadPlatformConfig(example('perf-v4.platform.json'));
    expect(config.performanceVersion).toBe(0x40000);
    expect(config.performanceDomains?.map((d) => d.levelIndexing)).toEqual([true, false]);
    const h = new Harness(config);
    h.connect(1);
    // PERF_DOMAIN_ATTRIBUTES bit 25 (level indexing); PERF_LEVEL_GET answers the level's index.
    const attributes = h.call(ScmiProtocolId.PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0]);
    expect((attributes.words[0] ?? 0) & (1 << 25)).toBe(1 << 25);
    expect(h.call(ScmiProtocolId.PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([40]);
    h.close();
  });
});
