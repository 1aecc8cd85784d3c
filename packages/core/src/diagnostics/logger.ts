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
