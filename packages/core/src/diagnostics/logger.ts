/**
 * The logger core writes to (DI token `LOGGER`): protocol init failures, transport warnings.
 *
 * @example
 * ```ts
 * const consoleLogger: ScmiLogger = {
 *   debug: () => {}, info: console.info, warn: console.warn, error: console.error,
 * };
 * ```
 */
export interface ScmiLogger {
  /** Detail for debugging. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Normal operation. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something unexpected that core handled. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something that failed. */
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => undefined;

/**
 * A logger that drops everything (core's default binding of `LOGGER`); spread it to keep only the
 * levels you want.
 *
 * @example
 * ```ts
 * container.rebind(LOGGER).toConstantValue({ ...silentLogger, warn: (m) => console.warn(m) });
 * ```
 */
export const silentLogger: ScmiLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * `inner` with every call contained: a logger that throws does not fail what core was doing when
 * it logged (a probe, a command whose warning is only informative); each throw is counted in
 * {@link ContainedLogger.throws} (reported as the agent's `diagnostics.loggerErrors`).
 * @internal
 */
export class ContainedLogger implements ScmiLogger {
  readonly #inner: ScmiLogger;
  /** Calls of the inner logger that threw. */
  public throws = 0;

  public constructor(inner: ScmiLogger) {
    this.#inner = inner;
  }

  public debug(message: string, fields?: Record<string, unknown>): void {
    this.#call('debug', message, fields);
  }

  public info(message: string, fields?: Record<string, unknown>): void {
    this.#call('info', message, fields);
  }

  public warn(message: string, fields?: Record<string, unknown>): void {
    this.#call('warn', message, fields);
  }

  public error(message: string, fields?: Record<string, unknown>): void {
    this.#call('error', message, fields);
  }

  #call(level: keyof ScmiLogger, message: string, fields?: Record<string, unknown>): void {
    try {
      this.#inner[level](message, fields);
    } catch {
      this.throws++;
    }
  }
}
