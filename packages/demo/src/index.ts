/**
 * The scmi-ts main job (`pnpm demo`), as functions that tests and other tools can run.
 *
 * @packageDocumentation
 */
export type { Print } from './devres-demo.js';
export type { DemoArgs, RunDemoOptions } from './demo-cli.js';
export type { PlatformWorkerData } from './platform-worker.js';
export type { TransportDemoOptions } from './transport-demo.js';
export type {
  DemoRawMessageRoutes,
  DemoTransportName,
  DemoWire,
  LateReplyReport,
  TransportDemoSetup,
  WireReport,
} from './transport-demo-setup.js';
export { DEMO_HELP, DEMO_USAGE, describeDemoError, parseDemoArgs, runDemo } from './demo-cli.js';
export { runDevresDemo } from './devres-demo.js';
export { mailboxDemo } from './mailbox-demo.js';
export { opteeDemo } from './optee-demo.js';
export { peerPortDemo } from './peer-port-demo.js';
export { DemoCheckError, runTransportDemo } from './transport-demo.js';
export { DEMO_TRANSPORTS } from './transport-demo-setup.js';
export { virtioDemo } from './virtio-demo.js';
