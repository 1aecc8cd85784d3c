/**
 * The scmi-ts main job (`pnpm demo`), as functions that tests and other tools can run.
 *
 * @packageDocumentation
 */
export type { Print } from './devres-demo.js';
export type { MailboxDemoOptions } from './mailbox-demo.js';
export { runDevresDemo } from './devres-demo.js';
export { runMailboxDemo } from './mailbox-demo.js';
