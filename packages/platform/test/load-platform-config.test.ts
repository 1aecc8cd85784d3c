import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScmiConfigError } from '@scmi-ts/core';
import { createDefaultPlatformConfig, loadPlatformConfig } from '@scmi-ts/platform';
import { defined } from './support/harness';

describe(loadPlatformConfig, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scmi-platform-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('should load and validate a JSON file', () => {
    const file = join(dir, 'soc.json');
    writeFileSync(file, JSON.stringify(createDefaultPlatformConfig(), null, 2));
    expect(loadPlatformConfig(file)).toEqual(createDefaultPlatformConfig());
  });

  it('should take JSON text directly', () => {
    const text = `  ${JSON.stringify(createDefaultPlatformConfig())}`;
    expect(loadPlatformConfig(text).vendor).toBe('scmi-ts');
  });

  it('should name $ when the file is missing or is not JSON', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    for (const input of [join(dir, 'missing.json'), bad, '{ nope']) {
      let error: unknown;
      try {
        loadPlatformConfig(input);
      } catch (e) {
        error = e;
      }
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe('$');
    }
  });

  it.each([
    ['a directory', (): string => dir, /not a regular file/],
    ['a device that never ends', (): string => '/dev/zero', /not a regular file/],
    [
      'a FIFO no one writes',
      (): string => {
        const fifo = join(dir, 'config.fifo');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
      /not a regular file/,
    ],
    [
      'a file over 16 MiB',
      (): string => {
        const big = join(dir, 'big.json');
        writeFileSync(big, '{}');
        truncateSync(big, 2 ** 24 + 1); // sparse: no 16 MiB written
        return big;
      },
      /16777217 bytes/,
    ],
  ])('should refuse %s without reading it, naming $', (_what, path, message) => {
    let error: unknown;
    try {
      loadPlatformConfig(path());
    } catch (e) {
      error = e;
    }
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe('$');
    expect((error as ScmiConfigError).message).toMatch(message);
  });

  it('should name the invalid field of a file', () => {
    const file = join(dir, 'invalid.json');
    const config = JSON.parse(JSON.stringify(createDefaultPlatformConfig())) as {
      clocks: { rates: unknown }[];
    };
    defined(config.clocks[2]).rates = { min: 1, max: 2, step: -1 };
    writeFileSync(file, JSON.stringify(config));
    expect(() => loadPlatformConfig(file)).toThrow(
      expect.objectContaining({ field: 'clocks[2].rates.step' }) as Error,
    );
  });
});
