/**
 * fast-check as every test file gets it: jest's `moduleNameMapper` (jest.config.ts) sends the
 * `fast-check` specifier here, so only the files that use it load it. The real module, configured
 * so that a property which does not set its own `seed` runs the same values on every run — the
 * suite never flakes on a counterexample one run in a thousand finds — and says how to replay a
 * failure:
 *
 * - unset: the fixed seed below, on every run;
 * - `SCMI_FC_SEED=<integer>`: that seed (what a failure's replay line gives);
 * - `SCMI_FC_SEED=random`: fast-check's own random seed, printed with a failure, for a campaign
 *   that explores further.
 *
 * A property that passes `seed` itself keeps it; a failure then says so.
 */
'use strict';
const { join } = require('node:path');

// A path, not the bare specifier: the mapper would send `fast-check` back here.
const fc = require(join(__dirname, 'node_modules', 'fast-check', 'lib', 'cjs', 'fast-check.js'));

/** The seed of the suite's runs when SCMI_FC_SEED is not set. */
const FIXED_SEED = 20261207;

function seedFromEnv() {
  const text = process.env.SCMI_FC_SEED;
  if (text === undefined) return FIXED_SEED;
  if (text === 'random') return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(n)) {
    throw new Error(`SCMI_FC_SEED=${text}: must be an integer or "random"`);
  }
  return n;
}

const seed = seedFromEnv();

/** The failure's message as fast-check writes it, then the line that replays it. */
function report(out) {
  if (!out.failed) return;
  const { testPath } = expect.getState();
  const file = testPath === undefined ? '<test file>' : testPath;
  const replay =
    seed === undefined || out.seed === seed
      ? `Replay: SCMI_FC_SEED=${out.seed} npx jest ${file}`
      : `Replay: the property sets its own seed (${out.seed}), not SCMI_FC_SEED: replay it as the test says (npx jest ${file} with the test's own seed variable)`;
  throw new Error(`${fc.defaultReportMessage(out)}\n\n${replay}`, { cause: out.errorInstance });
}

fc.configureGlobal({
  ...fc.readConfigureGlobal(),
  ...(seed === undefined ? {} : { seed }),
  reporter: report,
});

module.exports = fc;
