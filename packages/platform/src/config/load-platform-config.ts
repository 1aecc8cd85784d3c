import { readFileSync } from 'node:fs';
import { ScmiConfigError } from '@scmi-ts/core';
import type { PlatformConfig } from './platform-config.js';
import { validatePlatformConfig } from './validate-platform-config.js';

/**
 * Loads a platform configuration from its JSON file form and validates it: `pathOrJson` is either
 * JSON text (it starts with `{`, after white space) or the path of a JSON file, read synchronously
 * (so that a worker thread can build its platform before it answers anything).
 *
 * @throws ScmiConfigError with field `$` when the file cannot be read or is not valid JSON, or
 *   naming the first invalid field (see {@link validatePlatformConfig}).
 * @example
 * ```ts
 * const config = loadPlatformConfig('./soc.platform.json');
 * const same = loadPlatformConfig(JSON.stringify(createDefaultPlatformConfig()));
 * ```
 */
export function loadPlatformConfig(pathOrJson: string): PlatformConfig {
  const isJson = pathOrJson.trimStart().startsWith('{');
  let text = pathOrJson;
  if (!isJson) {
    try {
      text = readFileSync(pathOrJson, 'utf8');
    } catch (e) {
      throw new ScmiConfigError('$', `cannot read ${pathOrJson}: ${(e as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const where = isJson ? 'the JSON text' : pathOrJson;
    throw new ScmiConfigError('$', `${where} is not valid JSON: ${(e as Error).message}`);
  }
  return validatePlatformConfig(parsed);
}
