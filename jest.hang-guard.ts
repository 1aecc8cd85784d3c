/**
 * Every package's jest setup: a test's timeout is a hang guard, not a speed check. Tests that start
 * worker threads or run on real time can take several seconds on a loaded 2-core machine (jest's
 * 5 s default once failed the demo's worker test under load), and speed is measured by the
 * benchmark scripts, never by a test's timeout. A project-level `testTimeout` is not honoured by
 * jest-circus (it reads the global configuration), so it is set here, per test file.
 */
const fromEnv = Number(process.env.SCMI_TEST_TIMEOUT_MS);
// SCMI_TEST_TIMEOUT_MS raises it (jest's own --testTimeout is overridden by this call).
jest.setTimeout(Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 60_000);
