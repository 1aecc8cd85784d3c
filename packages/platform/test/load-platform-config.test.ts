import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScmiConfigError } from '@scmi-ts/core';
import { createDefaultPlatformConfig, loadPlatformConfig } from '@scmi-ts/platform';
import { describeSyntaxError } from '../src/config/load-platform-config';
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

  it('should give the line and column of a syntax error, not only its position', () => {
    const file = join(dir, 'syntax.json');
    writeFileSync(file, '{\n  "vendor": "acme",\n  "subVendor" "lab"\n}\n');
    const error = loadError(file);
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe('$');
    // Position 34 (Node 20) is the " of "lab": line 3, column 15.
    expect((error as ScmiConfigError).message).toMatch(
      new RegExp(
        `^invalid configuration: \\$: ${file} is not valid JSON: .*\\bline 3\\b.*\\b15\\b`,
      ),
    );
    expect((error as ScmiConfigError).message).not.toMatch(/decimal/);
  });

  it.each([
    ['{\n  "performanceVersion": 0x40000\n}', 'write 262144 for 0x40000'],
    ['{"agents": [0x1]}', 'write 1 for 0x1'],
    ['{"a": -0X1f}', 'write 31 for 0X1f'],
  ])('should say that JSON numbers are decimal when %p has a hexadecimal literal', (text, hint) => {
    const error = loadError(text);
    expect((error as ScmiConfigError).field).toBe('$');
    expect((error as ScmiConfigError).message).toMatch(/the JSON text is not valid JSON: .*line/);
    expect((error as ScmiConfigError).message).toContain(`; JSON numbers are decimal: ${hint}`);
  });

  it('should keep a syntax error message that gives no position as it is', () => {
    const text = '{"vendor": tru}';
    let parseMessage = '';
    try {
      JSON.parse(text);
    } catch (e) {
      parseMessage = (e as Error).message;
    }
    expect(() => loadPlatformConfig(text)).toThrow(
      `invalid configuration: $: the JSON text is not valid JSON: ${parseMessage}`,
    );
  });

  describe(describeSyntaxError, () => {
    it.each([
      // Node 20 gives the position only.
      [
        'Unexpected number in JSON at position 6',
        '{"a":\n01}',
        'Unexpected number in JSON at position 6 (line 2, column 1)',
      ],
      [
        'Unexpected token in JSON at position 3',
        'a\r\nbc',
        'Unexpected token in JSON at position 3 (line 2, column 1)',
      ],
      // Later versions translate it themselves: nothing is added.
      [
        'Expected property name in JSON at position 2 (line 1 column 3)',
        '{ x',
        'Expected property name in JSON at position 2 (line 1 column 3)',
      ],
      // "at position" quoted from the user's own text is not Node's position.
      [
        'Unexpected token \'}\', "{"at position 2":}" is not valid JSON',
        '{"at position 2":}',
        'Unexpected token \'}\', "{"at position 2":}" is not valid JSON',
      ],
      // No position, or one past the text: as it is.
      [
        'Unexpected token \'x\', "{x" is not valid JSON',
        '{x',
        'Unexpected token \'x\', "{x" is not valid JSON',
      ],
      ['Unexpected end in JSON at position 99', '{', 'Unexpected end in JSON at position 99'],
      ['', '{', ''],
    ])('should turn %p about %p into %p', (message, text, out) => {
      expect(describeSyntaxError(message, text)).toBe(out);
    });

    it('should mention hexadecimal only for a hexadecimal literal at the error', () => {
      const m = (position: number): string => `Unexpected token in JSON at position ${position}`;
      expect(describeSyntaxError(m(6), '{"a":0x10}')).toBe(
        `${m(6)} (line 1, column 7); JSON numbers are decimal: write 16 for 0x10`,
      );
      expect(describeSyntaxError(m(6), '{"a":0xZ}')).toBe(`${m(6)} (line 1, column 7)`);
      // A number that goes on with an x is a typo, not hexadecimal.
      expect(describeSyntaxError(m(9), '{"a":100x1}')).toBe(`${m(9)} (line 1, column 10)`);
      // Too large to be exact: no decimal offered.
      expect(describeSyntaxError(m(2), ` 0x${'f'.repeat(20)}`)).toBe(
        `${m(2)} (line 1, column 3); JSON numbers are decimal`,
      );
    });
  });

  it('should name the file, and the same field, when a file is not a valid configuration', () => {
    const file = join(dir, 'myplat.json');
    const config = JSON.parse(JSON.stringify(createDefaultPlatformConfig())) as {
      clocks: { rates: unknown }[];
    };
    defined(config.clocks[0]).rates = '24MHz';
    writeFileSync(file, JSON.stringify(config));
    const error = loadError(file);
    expect(ScmiConfigError.is(error)).toBe(true);
    expect((error as ScmiConfigError).field).toBe('clocks[0].rates');
    expect((error as ScmiConfigError).message).toBe(
      `invalid configuration: ${file}: clocks[0].rates: must be a list of rates or a { min, max, step } range (in Hz), got "24MHz"`,
    );
    expect((error as ScmiConfigError).stack).toContain(`${file}: clocks[0].rates:`);
    // JSON text is no file: its message is validatePlatformConfig's.
    expect(() => loadPlatformConfig(JSON.stringify(config))).toThrow(
      /^invalid configuration: clocks\[0\]\.rates: must be a list/,
    );
  });

  it('should name the file of JSON that is not an object, without an empty field', () => {
    const file = join(dir, 'list.json');
    writeFileSync(file, '[1]');
    expect(() => loadPlatformConfig(file)).toThrow(
      expect.objectContaining({
        field: '',
        message: `invalid configuration: ${file}: must be an object, got an array`,
      }) as Error,
    );
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
