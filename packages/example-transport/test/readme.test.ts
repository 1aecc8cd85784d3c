import { join } from 'node:path';
import * as core from '@scmi-ts/core';
import * as example from '@scmi-ts/example-transport';
import * as platform from '@scmi-ts/platform';
import * as inversify from 'inversify';
import {
  runExample,
  saidToPrint,
  sectionExamples,
} from '../../core/test/support/readme-example.js';

describe('packages/example-transport/README.md: Example', () => {
  it('should run and print what its comments say', async () => {
    const blocks = sectionExamples(
      join(__dirname, '../README.md'),
      '## Example (one thread, virtual time)',
    );
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    const source = blocks[0] as string;
    const said = saidToPrint(source);
    expect(said).toEqual(['scmi-ts 7', '1200000000']);
    const modules = {
      inversify,
      '@scmi-ts/core': core,
      '@scmi-ts/platform': platform,
      '@scmi-ts/example-transport': example,
    };
    await expect(runExample(source, modules)).resolves.toEqual(said);
  });
});
