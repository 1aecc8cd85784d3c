import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScmiConfigError } from '@scmi-ts/core';
import { createDefaultPlatformConfig, loadPlatformConfig } from '@scmi-ts/platform';
import { defined } from './support/harness';

/** What `loadPlatformConfig(input)` throws (undefined when it returns). */
function loadError(input: string): unknown {
  try {
    loadPlatformConfig(input);
    return undefined;
  } catch (e) {
    return e;
  }
}

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

  it('should skip a UTF-8 byte order mark at the start of a file or of JSON text', () => {
    const file = join(dir, 'bom.json');
    const json = JSON.stringify(createDefaultPlatformConfig());
    writeFileSync(file, `\ufeff${json}`);
    expect(loadPlatformConfig(file)).toEqual(createDefaultPlatformConfig());
    expect(loadPlatformConfig(`\ufeff${json}`).vendor).toBe('scmi-ts');
  });

  it('should take JSON text directly', () => {
    const text = `  ${JSON.stringify(createDefaultPlatformConfig())}`;
    expect(loadPlatformConfig(text).vendor).toBe('scmi-ts');
  });

  it('should name $ when the file is missing or is not JSON', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    for (const input of [join(dir, 'missing.json'), bad, '{ nope']) {
      const error = loadError(input);
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
    const error = loadError(path());
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe('$');
    expect((error as ScmiConfigError).message).toMatch(message);
  });

  it.each([
    ['an object', createDefaultPlatformConfig()],
    ['undefined', undefined],
    ['a number', 42],
    ['an empty string', ''],
  ])('should refuse %s, naming $, instead of failing with a TypeError', (_what, input) => {
    const error = loadError(input as unknown as string);
    expect(error).not.toBeInstanceOf(TypeError);
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe('$');
    expect((error as ScmiConfigError).message).toMatch(
      /must be a path or the JSON text of an object/,
    );
  });

  it.each([
    ['[1]', /must be an object, got an array/],
    [' 42', /must be an object, got 42/],
    ['null', /must be an object, got null/],
    ['"soc.json"', /must be an object, got "soc.json"/],
  ])(
    'should say that JSON text %p must be an object, not that no file has that name',
    (text, message) => {
      const error = loadError(text);
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe('$');
      expect((error as ScmiConfigError).message).toMatch(message);
      expect((error as ScmiConfigError).message).not.toMatch(/cannot read/);
    },
  );

  it('should still read a file whose name is JSON text', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      writeFileSync('[1]', JSON.stringify(createDefaultPlatformConfig()));
      expect(loadPlatformConfig('[1]').vendor).toBe('scmi-ts');
      writeFileSync(join(dir, '42'), '[1]');
      expect(() => loadPlatformConfig('42')).toThrow(
        expect.objectContaining({ field: '' }) as Error,
      );
    } finally {
      process.chdir(cwd);
    }
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
