import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { ScmiTransportError } from '@scmi-ts/core';
import { DEMO_HELP, DEMO_USAGE, parseDemoArgs, runDemo } from '../src/demo-cli.js';
import { printable } from '../src/format.js';
import { mailboxDemo } from '../src/mailbox-demo.js';
import { opteeDemo } from '../src/optee-demo.js';
import type { TransportDemoSetup } from '../src/transport-demo-setup.js';

describe(parseDemoArgs, () => {
  describe('when called without arguments', () => {
    it('should choose every transport, mailbox then virtio then optee then peer-port', () => {
      expect(parseDemoArgs([])).toEqual({
        ok: true,
        transports: ['mailbox', 'virtio', 'optee', 'peer-port'],
      });
    });
  });

  describe('when given --transport <name>', () => {
    it.each(['mailbox', 'virtio', 'optee', 'peer-port'])('should choose %s alone', (name) => {
      expect(parseDemoArgs(['--transport', name])).toEqual({ ok: true, transports: [name] });
      expect(parseDemoArgs([`--transport=${name}`])).toEqual({ ok: true, transports: [name] });
    });

    it('should ignore the "--" that `pnpm demo -- …` passes on', () => {
      expect(parseDemoArgs(['--', '--transport', 'virtio'])).toEqual({
        ok: true,
        transports: ['virtio'],
      });
    });
  });

  describe('when given --config <file>', () => {
    it('should take the file, with a transport or alone, in either form', () => {
      expect(parseDemoArgs(['--config', 'soc.json', '--transport', 'virtio'])).toEqual({
        ok: true,
        transports: ['virtio'],
        config: 'soc.json',
      });
      expect(parseDemoArgs(['--config=soc.json'])).toEqual({
        ok: true,
        transports: ['mailbox', 'virtio', 'optee', 'peer-port'],
        config: 'soc.json',
      });
    });

    it.each([
      [['--config'], /--config needs a file/],
      [['--config='], /--config needs a file/],
      [['--config', 'a.json', '--config', 'b.json'], /--config given twice/],
    ])('should refuse %j', (argv, message) => {
      const args = parseDemoArgs(argv);
      expect(args.ok).toBe(false);
      if (!args.ok) expect(args.error).toMatch(message);
    });
  });

  describe('when given -h or --help', () => {
    it.each([[['--help']], [['-h']], [['--transport', 'nope', '--help']], [['--', '-h']]])(
      'should ask for the help text and no transport, whatever else %j holds',
      (argv) => {
        expect(parseDemoArgs(argv)).toEqual({ ok: true, transports: [], help: true });
      },
    );
  });

  describe('when given a bad argument', () => {
    it('should name an unknown transport and list the valid ones', () => {
      const args = parseDemoArgs(['--transport', 'smc']);
      expect(args).toEqual({
        ok: false,
        error: `unknown transport "smc" (valid transports: mailbox, virtio, optee, peer-port)\n${DEMO_USAGE}`,
      });
    });

    it.each([
      [['--transport'], /--transport needs a name/],
      [['--transport='], /--transport needs a name/],
      [['virtio'], /unknown argument "virtio"/],
      [['--transport', 'virtio', '--transport', 'optee'], /--transport given twice/],
    ])('should refuse %j', (argv, message) => {
      const args = parseDemoArgs(argv);
      expect(args.ok).toBe(false);
      if (!args.ok) expect(args.error).toMatch(message);
    });

    it.each<[unknown, RegExp]>([
      [[1], /^argument 1 is not a string \(number\)\n/],
      [['--transport', 'virtio', null], /^argument 3 is not a string \(null\)\n/],
      [['--transport', {}], /^argument 2 is not a string \(object\)\n/],
      // eslint-disable-next-line no-sparse-arrays
      [['--', , 'virtio'], /^argument 2 is not a string \(undefined\)\n/],
      [['-h', Symbol('x')], /^argument 2 is not a string \(symbol\)\n/],
      ['--help', /^the arguments must be an array of strings\n/],
      [undefined, /^the arguments must be an array of strings\n/],
    ])('should refuse %p as a usage error, not throw', (argv, message) => {
      const args = parseDemoArgs(argv as string[]);
      expect(args).toEqual({ ok: false, error: expect.stringMatching(message) as string });
      if (!args.ok) expect(args.error.endsWith(`\n${DEMO_USAGE}`)).toBe(true);
    });

    it.each([
      [
        'an OSC title',
        ['--transport', 'nope\u001b]0;pwn\u0007'],
        'unknown transport "nope\\x1b]0;pwn\\x07"',
      ],
      ['a C1 CSI', ['--transport=\u009b2J'], 'unknown transport "\\x9b2J"'],
      ['an ESC CSI', ['\u001b[2J'], 'unknown argument "\\x1b[2J"'],
      ['a bidi override', ['a\u202eb'], 'unknown argument "a\\u202eb"'],
    ])(
      'should quote an argument holding %s in the error as shown, not obeyed',
      (_, argv, quoted) => {
        const args = parseDemoArgs(argv);
        expect(args.ok).toBe(false);
        if (args.ok) return;
        expect(args.error).toContain(quoted);
        // Nothing a terminal obeys is left, but the newline before the usage line (a backslash
        // is spelt out only to tell the escapes apart).
        const rest = args.error.replace(/[\n\\]/g, '');
        expect(printable(rest)).toBe(rest);
      },
    );
  });
});

describe(runDemo, () => {
  ensureNoLeaksInSuite();

  describe('when given a --config file that cannot be used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scmi-demo-'));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('should run the platform with a valid one, from the file', async () => {
      const file = join(dir, 'acme.json');
      writeFileSync(file, JSON.stringify({ ...createDefaultPlatformConfig(), vendor: 'acme' }));
      const out: string[] = [];
      const code = await runDemo(['--transport', 'mailbox', '--config', file], (l) => out.push(l));
      expect(code).toBe(0);
      expect(out).toContain(`platform configuration: ${file}`);
      expect(out.join('\n')).toMatch(/vendor\s+acme/);
    });

    it('should take a relative path from where pnpm was run (INIT_CWD), not packages/demo', async () => {
      const before = process.env.INIT_CWD;
      process.env.INIT_CWD = dir;
      try {
        const errors: string[] = [];
        const code = await runDemo(['--config', 'nope.json'], () => undefined, {
          printError: (l) => errors.push(l),
        });
        expect(code).toBe(2);
        // Looked for in INIT_CWD (a file that is not there, so that nothing starts).
        expect(errors.join('\n')).toContain(join(dir, 'nope.json'));
      } finally {
        if (before === undefined) delete process.env.INIT_CWD;
        else process.env.INIT_CWD = before;
      }
    });

    it.each([
      ['missing', undefined, /--config: .*missing\.json/],
      ['bad JSON', '{ "vendor": ', /not valid JSON/],
      ['invalid', JSON.stringify({ vendor: 'x' }), /E_CONFIG.*subVendor|E_CONFIG.*agents/],
    ])(
      'should print why (%s) and resolve to exit code 2, starting nothing',
      async (name, text, message) => {
        const file = join(
          dir,
          name === 'missing' ? 'missing.json' : `${name.replace(' ', '-')}.json`,
        );
        if (text !== undefined) writeFileSync(file, text);
        const out: string[] = [];
        const errors: string[] = [];
        const code = await runDemo(['--config', file], (l) => out.push(l), {
          printError: (l) => errors.push(l),
        });
        expect(code).toBe(2);
        expect(out).toEqual([]);
        expect(errors.join('\n')).toMatch(message);
      },
    );
  });

  describe('when given an unknown transport', () => {
    it('should print the error with the valid names and resolve to exit code 2 (a usage error), starting nothing', async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const code = await runDemo(['--transport', 'nope'], (l) => out.push(l), {
        printError: (l) => errors.push(l),
      });
      expect(code).toBe(2);
      expect(out).toEqual([]);
      expect(errors.join('\n')).toMatch(
        /unknown transport "nope" \(valid transports: mailbox, virtio, optee, peer-port\)/,
      );
    });
  });

  describe('when given an argument that would drive the terminal', () => {
    it('should print it escaped and resolve to exit code 2', async () => {
      const errors: string[] = [];
      const code = await runDemo(['\u001b]0;pwn\u0007'], () => undefined, {
        printError: (l) => errors.push(l),
      });
      expect(code).toBe(2);
      expect(errors[0]).toBe(`scmi-ts demo: unknown argument "\\x1b]0;pwn\\x07"\n${DEMO_USAGE}`);
    });

    it('should refuse an argument that is not a string with exit code 2', async () => {
      const errors: string[] = [];
      const code = await runDemo([1] as unknown as string[], () => undefined, {
        printError: (l) => errors.push(l),
      });
      expect(code).toBe(2);
      expect(errors[0]).toMatch(/^scmi-ts demo: argument 1 is not a string \(number\)/);
    });
  });

  describe('when given --help', () => {
    it('should print the usage, the transports and the options, start nothing and resolve to 0', async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const code = await runDemo(['--help'], (l) => out.push(l), {
        printError: (l) => errors.push(l),
      });
      expect(code).toBe(0);
      expect(errors).toEqual([]);
      expect(out).toEqual([DEMO_HELP]);
      expect(DEMO_HELP.startsWith(DEMO_USAGE)).toBe(true);
      for (const word of ['--transport', '--help', 'mailbox', 'virtio', 'optee'])
        expect(DEMO_HELP).toContain(word);
    });
  });

  describe('when a part fails', () => {
    it('should name the transport and the error, stop its worker, run the others and resolve to exit code 1', async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const failing = (name: 'mailbox' | 'virtio'): TransportDemoSetup => ({
        ...opteeDemo,
        name,
        open: () =>
          Promise.reject(
            new ScmiTransportError('E_DEMO', `no ${name} wire`, {
              cause: new Error('the bench is unplugged'),
            }),
          ),
      });
      const code = await runDemo([], (l) => out.push(l), {
        printError: (l) => errors.push(l),
        setups: { mailbox: failing('mailbox'), virtio: failing('virtio') },
      });
      expect(code).toBe(1);
      expect(errors).toEqual([
        'scmi-ts demo: the mailbox part failed: E_DEMO: no mailbox wire (cause: Error: the bench is unplugged)',
        'scmi-ts demo: the virtio part failed: E_DEMO: no virtio wire (cause: Error: the bench is unplugged)',
        'scmi-ts demo: 2 of 4 part(s) failed (mailbox, virtio)',
      ]);
      // The parts after the failures still ran to their end.
      expect(out).toContain('optee: platform worker stopped; done.');
      expect(out.at(-1)).toBe('peer-port: platform worker stopped; done.');
    });
  });

  describe('when what a part prints quotes the platform', () => {
    it('should show control and bidirectional characters as escapes, never write them to the terminal', async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const hostile: TransportDemoSetup = {
        ...opteeDemo,
        open: () =>
          Promise.reject(
            new ScmiTransportError('E_DEMO', 'vendor "ACME\u001b[2J\u009b\u202e\r\n"'),
          ),
      };
      const code = await runDemo(['--transport', 'optee'], (l) => out.push(l), {
        printError: (l) => errors.push(l),
        setups: { optee: hostile },
      });
      expect(code).toBe(1);
      expect(errors[0]).toBe(
        'scmi-ts demo: the optee part failed: E_DEMO: vendor "ACME\\x1b[2J\\x9b\\u202e\\x0d\\x0a"',
      );
      for (const line of [...out, ...errors]) {
        for (let i = 0; i < line.length; i++) {
          const code = line.charCodeAt(i);
          expect(code >= 0x20 && (code < 0x7f || code > 0x9f) && code !== 0x202e).toBe(true);
        }
      }
    });
  });

  describe(printable, () => {
    it.each([
      ['ACME\u001b[2J', 'ACME\\x1b[2J'],
      ['OSPM\r\n', 'OSPM\\x0d\\x0a'],
      ['\u009b31m', '\\x9b31m'],
      ['a\u202eb\u061cc\u2066d\u2028', 'a\\u202eb\\u061cc\\u2066d\\u2028'],
      ['C:\\x1b', 'C:\\x5cx1b'],
      ['scmi-ts 1.0 (é)', 'scmi-ts 1.0 (é)'],
    ])('should show %j as %j', (text, shown) => {
      expect(printable(text)).toBe(shown);
    });
  });

  describe('when a part that succeeds prints something from outside', () => {
    it('should escape it in the lines of the part too', async () => {
      const out: string[] = [];
      const hostile: TransportDemoSetup = {
        ...mailboxDemo,
        routes: { ...mailboxDemo.routes, clock: 'a2p:1\u001b]0;pwn\u0007' },
      };
      const code = await runDemo(['--transport', 'mailbox'], (l) => out.push(l), {
        setups: { mailbox: hostile },
      });
      expect(code).toBe(0);
      expect(out.join('\n')).toContain('(a2p:1\\x1b]0;pwn\\x07)');
      expect(out.join('').includes('\u001b') || out.join('').includes('\u0007')).toBe(false);
    });
  });

  describe("when a part's own checks do not hold", () => {
    it('should fail the part when the seed scenario did not happen (its probe succeeded)', async () => {
      const noFault: TransportDemoSetup = {
        ...mailboxDemo,
        open: async (host, purpose) => {
          const wire = await mailboxDemo.open(host, purpose);
          if (purpose === 'seed') await host.call('setFaults', []); // the late reply is gone
          return wire;
        },
      };
      const out: string[] = [];
      const errors: string[] = [];
      const code = await runDemo(['--transport', 'mailbox'], (l) => out.push(l), {
        printError: (l) => errors.push(l),
        setups: { mailbox: noFault },
      });
      expect(out).toContain('  unexpected: the probe succeeded');
      expect(code).toBe(1);
      expect(errors).toEqual([
        "scmi-ts demo: the mailbox part failed: DemoCheckError: mailbox: the seed scenario's probe succeeded: its late reply came in time",
        'scmi-ts demo: 1 of 1 part(s) failed (mailbox)',
      ]);
    });

    it('should fail the part when the wire reports callbacks on released channels', async () => {
      const violating: TransportDemoSetup = {
        ...mailboxDemo,
        open: async (host, purpose) => {
          const wire = await mailboxDemo.open(host, purpose);
          return { ...wire, report: async () => ({ ...(await wire.report()), violations: 2 }) };
        },
      };
      const out: string[] = [];
      const errors: string[] = [];
      const code = await runDemo(['--transport', 'mailbox'], (l) => out.push(l), {
        printError: (l) => errors.push(l),
        setups: { mailbox: violating },
      });
      expect(code).toBe(1);
      expect(errors[0]).toBe(
        // Step 1's report and step 3's: the seed scenario still ran and printed after step 1's.
        'scmi-ts demo: the mailbox part failed: DemoCheckError: mailbox: 2 callback(s) ran on released channels; 2 callback(s) ran on released channels',
      );
    });
  });

  describe('when given one transport', () => {
    it('should run only that one under its heading and resolve to exit code 0', async () => {
      const out: string[] = [];
      const code = await runDemo(['--transport', 'optee'], (l) => out.push(l));
      expect(code).toBe(0);
      expect(out[0]).toBe('scmi-ts demo: optee');
      expect(out.filter((l) => l.startsWith('=== '))).toEqual([
        '=== optee: SCMI through the OP-TEE SCMI pseudo-TA, emulated OP-TEE and platform in a worker ===',
      ]);
      expect(out.at(-1)).toBe('optee: platform worker stopped; done.');
    });
  });
});
