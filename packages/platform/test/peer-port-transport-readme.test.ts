import { join } from 'node:path';
import * as core from '@scmi-ts/core';
import * as platform from '@scmi-ts/platform';
import * as inversify from 'inversify';
import {
  runExample,
  saidToPrint,
  sectionExamples,
} from '../../core/test/support/readme-example.js';

describe('packages/platform/README.md: Connecting an agent to a peer port', () => {
  it('should run and print what its comments say', async () => {
    const blocks = sectionExamples(
      join(__dirname, '../README.md'),
      '### Connecting an agent to a peer port',
    );
    expect(blocks).toHaveLength(1);
    const source = blocks[0] as string;
    const said = saidToPrint(source);
    expect(said).toEqual(['scmi-ts 7', '1200000000']);
    await expect(
      runExample(source, { inversify, '@scmi-ts/core': core, '@scmi-ts/platform': platform }),
    ).resolves.toEqual(said);
  });
});
