import { resolve } from 'node:path';
import { loadPlatformConfig, type PlatformConfig } from '@scmi-ts/platform';
import type { Print } from './devres-demo.js';
import { mailboxDemo } from './mailbox-demo.js';
import { opteeDemo } from './optee-demo.js';
import { peerPortDemo } from './peer-port-demo.js';
import { runTransportDemo } from './transport-demo.js';
import { printable } from './format.js';
import {
  DEMO_TRANSPORTS,
  type DemoTransportName,
  type TransportDemoSetup,
} from './transport-demo-setup.js';
import { virtioDemo } from './virtio-demo.js';

/** What the demo's command line asks for, or why it cannot be run. */
export type DemoArgs =
  | {
      /** The command line is valid. */
      readonly ok: true;
      /** The transports to show, in order (none with `help`). */
      readonly transports: readonly DemoTransportName[];
      /** `-h` or `--help` was given: print {@link DEMO_HELP} and run nothing. */
      readonly help?: true;
      /** `--config <file>`: the platform configuration file (JSON) the platform runs with. */
      readonly config?: string;
    }
  | {
      /** The command line is not valid. */
      readonly ok: false;
      /** Why, naming the valid transports. */
      readonly error: string;
    };

/** The usage line of the demo's command line. */
export const DEMO_USAGE = `usage: pnpm demo [--transport <${DEMO_TRANSPORTS.join('|')}>] [--config <file>] [--help]`;

/** What `pnpm demo --help` prints: the usage line, what the demo does, and its options. */
export const DEMO_HELP = `${DEMO_USAGE}

Probes an SCMI agent over each transport in turn, against the emulated platform in a worker
thread: discovery, Base commands, raw messages, the protocol clients (power, system power,
performance, clock, sensor, reset) and notifications, then the seed scenario (a reply
that arrives after a failed probe) with the teardown order. Exit code 0 when every part ran and
showed what it should (the seed scenario's probe failed, no callback ran on a released channel, no
platform timer was left armed); 1 when a part failed; 2 for bad arguments.

  --transport <name>  only one transport:
                        mailbox  SMT shared memory with mailbox doorbells
                        virtio   virtio-scmi over split virtqueues
                        optee    the OP-TEE SCMI pseudo-TA (emulated OP-TEE)
                        peer-port  the platform's peer port (loopback TCP), as a tool in
                                   another process would connect
  --config <file>     the emulated platform's configuration, a JSON file (see the platform
                      README's Configuration and its examples/*.platform.json); default the
                      built-in one. The agent is agent 1: what it cannot use is listed as not
                      available, a command the platform refuses shows its status.
  -h, --help          this text

(From a fresh clone, pnpm is \`npx -y pnpm@10.34.9\`.)`;

const SETUPS: Readonly<Record<DemoTransportName, TransportDemoSetup>> = {
  mailbox: mailboxDemo,
  virtio: virtioDemo,
  optee: opteeDemo,
  'peer-port': peerPortDemo,
};

function isDemoTransport(name: string): name is DemoTransportName {
  return (DEMO_TRANSPORTS as readonly string[]).includes(name);
}

/**
 * Parses the demo's arguments: none runs every transport in turn; `--transport <name>` (or
 * `--transport=<name>`) runs one; `--config <file>` (or `--config=<file>`) names the platform's
 * configuration file; `-h` or `--help` asks for {@link DEMO_HELP} (whatever else is given). A lone `--` (what `pnpm demo -- …` may pass on) is ignored.
 * Never throws: an unknown name, a missing value, an unknown argument, an argument that is not a
 * string (or a hole), or `argv` that is not an array gives `ok: false` with a message naming the
 * valid transports. What the message quotes of the arguments goes through `printable` (a control
 * character is shown as `\x1b`, never obeyed): the message is safe to print as it is.
 *
 * @example
 * ```ts
 * parseDemoArgs(['--transport', 'virtio']); // { ok: true, transports: ['virtio'] }
 * parseDemoArgs([]); // { ok: true, transports: ['mailbox', 'virtio', 'optee', 'peer-port'] }
 * ```
 */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const valid = `valid transports: ${DEMO_TRANSPORTS.join(', ')}`;
  const list: unknown = argv;
  if (!Array.isArray(list)) {
    return { ok: false, error: `the arguments must be an array of strings\n${DEMO_USAGE}` };
  }
  // An index loop, not filter: a hole is refused, not skipped (it stops at the first one).
  for (let i = 0; i < list.length; i++) {
    const arg: unknown = list[i];
    if (typeof arg !== 'string') {
      const got = arg === null ? 'null' : typeof arg;
      return { ok: false, error: `argument ${i + 1} is not a string (${got})\n${DEMO_USAGE}` };
    }
  }
  const args = argv.filter((a) => a !== '--');
  if (args.includes('-h') || args.includes('--help'))
    return { ok: true, transports: [], help: true };
  let chosen: DemoTransportName | undefined;
  let config: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    let value: string | undefined;
    if (arg === '--config' || arg.startsWith('--config=')) {
      const file = arg === '--config' ? args[++i] : arg.slice('--config='.length);
      if (file === undefined || file === '')
        return { ok: false, error: `--config needs a file\n${DEMO_USAGE}` };
      if (config !== undefined && config !== file)
        return { ok: false, error: `--config given twice\n${DEMO_USAGE}` };
      config = file;
      continue;
    }
    if (arg === '--transport') value = args[++i];
    else if (arg.startsWith('--transport=')) value = arg.slice('--transport='.length);
    else return { ok: false, error: `unknown argument "${printable(arg)}"\n${DEMO_USAGE}` };
    if (value === undefined || value === '')
      return { ok: false, error: `--transport needs a name (${valid})\n${DEMO_USAGE}` };
    if (!isDemoTransport(value))
      return {
        ok: false,
        error: `unknown transport "${printable(value)}" (${valid})\n${DEMO_USAGE}`,
      };
    if (chosen !== undefined && chosen !== value)
      return { ok: false, error: `--transport given twice (${chosen}, ${value})\n${DEMO_USAGE}` };
    chosen = value;
  }
  return {
    ok: true,
    transports: chosen === undefined ? DEMO_TRANSPORTS : [chosen],
    ...(config === undefined ? {} : { config }),
  };
}

/** Options of {@link runDemo}. */
export interface RunDemoOptions {
  /** Where errors go (default: `print`). */
  readonly printError?: Print;
  /** The agent's RX timeout in each seed-scenario replay, ms (default 30). */
  readonly rxTimeoutMs?: number;
  /** Replaces the part of a transport (a test's failing one, or a demo of your own wire). */
  readonly setups?: Partial<Readonly<Record<DemoTransportName, TransportDemoSetup>>>;
}

/**
 * One line for an error: its code (SCMI errors) or name, its message, and its causes (up to
 * four errors deep).
 *
 * @example
 * ```ts
 * describeDemoError(new ScmiTransportError('E_TEE', 'opening the session failed'));
 * // 'E_TEE: opening the session failed'
 * ```
 */
export function describeDemoError(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(`${typeof code === 'string' ? code : e.name}: ${e.message}`);
      e = e.cause;
    } else {
      // JSON.stringify gives undefined for a function or a symbol, whatever its type says.
      const json = JSON.stringify(e) as string | undefined;
      parts.push(typeof e === 'string' ? e : (json ?? typeof e));
      e = undefined;
    }
  }
  return parts.join(' (cause: ') + ')'.repeat(parts.length - 1);
}

/**
 * The main job behind `pnpm demo`: parses `argv` and shows each chosen transport in turn, each
 * under its own heading. Resolves to the process exit code: 0 when every part ran and its checks
 * held (a part whose checks failed throws `DemoCheckError`: a failed part) (or for `--help`,
 * which prints {@link DEMO_HELP} and starts nothing); 2 for bad arguments (a usage error: the
 * error and the valid names are printed, nothing is started) or a `--config` file that cannot be
 * read or is not a valid platform configuration (the file and the error are printed); 1 when a part failed — its worker
 * is stopped, one line names the transport, the error's code and message (and its causes) on
 * `printError`, and the remaining transports still run.
 *
 * @example
 * ```ts
 * process.exitCode = await runDemo(process.argv.slice(2), console.log, { printError: console.error });
 * ```
 */
export async function runDemo(
  argv: readonly string[],
  print: Print,
  options: RunDemoOptions = {},
): Promise<number> {
  const args = parseDemoArgs(argv);
  if (!args.ok) {
    (options.printError ?? print)(`scmi-ts demo: ${args.error}`);
    return 2;
  }
  if (args.help === true) {
    print(DEMO_HELP);
    return 0;
  }
  // What the parts print quotes the platform (names, error messages): shown, never obeyed.
  const show: Print = (line) => {
    print(printable(line));
  };
  const printError = (line: string): void => {
    (options.printError ?? print)(printable(line));
  };
  let platformConfig: PlatformConfig | undefined;
  if (args.config !== undefined) {
    try {
      // Relative to where `pnpm demo` was run: pnpm runs the script in packages/demo, and says
      // where it was called from in INIT_CWD.
      platformConfig = loadPlatformConfig(
        resolve(process.env.INIT_CWD ?? process.cwd(), args.config),
      );
    } catch (error) {
      // A usage error: nothing is started.
      // The loader's message names the file.
      printError(`scmi-ts demo: --config: ${describeDemoError(error)}`);
      return 2;
    }
  }
  print(`scmi-ts demo: ${args.transports.join(', then ')}`);
  if (args.config !== undefined) print(`platform configuration: ${args.config}`);
  const failed: DemoTransportName[] = [];
  for (const name of args.transports) {
    print('');
    try {
      await runTransportDemo(show, options.setups?.[name] ?? SETUPS[name], {
        ...(options.rxTimeoutMs === undefined ? {} : { rxTimeoutMs: options.rxTimeoutMs }),
        ...(platformConfig === undefined ? {} : { platformConfig }),
      });
    } catch (error) {
      failed.push(name);
      printError(`scmi-ts demo: the ${name} part failed: ${describeDemoError(error)}`);
    }
  }
  if (failed.length === 0) return 0;
  printError(
    `scmi-ts demo: ${failed.length} of ${args.transports.length} part(s) failed (${failed.join(', ')})`,
  );
  return 1;
}
