import { ContainerModule } from 'inversify';
import { RealClock } from '../clock/clock.js';
import { silentLogger } from '../diagnostics/logger.js';
import { CLOCK, LOGGER } from './tokens.js';

/**
 * Core's inversify module: binds the real {@link Clock} and a silent logger. Load it with the
 * transport modules you want, then create agents by transport name.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, mailboxTransportModule);
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig });
 * ```
 */
export const coreModule = new ContainerModule((options) => {
  options.bind(CLOCK).toConstantValue(new RealClock());
  options.bind(LOGGER).toConstantValue(silentLogger);
});
