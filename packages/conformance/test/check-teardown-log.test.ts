import { checkTeardownLog } from '@scmi-ts/conformance';
import type { DevresEvent } from '@scmi-ts/devres';

let seq = 0;
const ev = (type: DevresEvent['type'], resource: string, device = 'dev'): DevresEvent => ({
  seq: ++seq,
  type,
  device,
  resource,
  group: '',
});

describe(checkTeardownLog, () => {
  it('should accept a clean teardown with repeated names', () => {
    const log = [
      ev('add', 'buf'),
      ev('add', 'buf'),
      ev('teardown-begin', 'dev'),
      ev('quiesce', 'buf'),
      ev('release', 'buf'),
      ev('release', 'buf'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([]);
  });

  it('should report a resource released twice when another of the same name was not released', () => {
    // Two `buf`, one `other`: `buf` released three times (once too often) and `other` never, which
    // a check of names alone would not see.
    const log = [
      ev('add', 'buf'),
      ev('add', 'buf'),
      ev('add', 'other'),
      ev('teardown-begin', 'dev'),
      ev('release', 'buf'),
      ev('release', 'buf'),
      ev('release', 'buf'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual(
      expect.arrayContaining([expect.stringMatching(/released twice: \/buf released 3 time/)]),
    );
  });

  it('should report a release before a quiesce in a later teardown', () => {
    const log = [
      ev('add', 'a'),
      ev('teardown-begin', 'dev'),
      ev('quiesce', 'a'),
      ev('release', 'a'),
      ev('teardown-end', 'dev'),
      ev('add', 'b', 'dev2'),
      ev('teardown-begin', 'dev2', 'dev2'),
      ev('release', 'b', 'dev2'),
      ev('quiesce', 'b', 'dev2'),
      ev('teardown-end', 'dev2', 'dev2'),
    ];
    expect(checkTeardownLog(log)).toContain('dev2: a quiesce step ran after a release step');
  });

  it('should check each device of a log on its own', () => {
    const log = [
      ev('add', 'a'),
      ev('teardown-begin', 'dev'),
      ev('quiesce', 'a'),
      ev('release', 'a'),
      ev('teardown-end', 'dev'),
      ev('add', 'b', 'dev2'),
      ev('teardown-begin', 'dev2', 'dev2'),
      ev('quiesce', 'b', 'dev2'),
      ev('release', 'b', 'dev2'),
      ev('teardown-end', 'dev2', 'dev2'),
    ];
    expect(checkTeardownLog(log)).toEqual([]);
  });

  it('should not expect a forgotten resource to be released', () => {
    const log = [
      ev('add', 'a'),
      ev('add', 'kept-by-caller'),
      ev('forget', 'kept-by-caller'),
      ev('teardown-begin', 'dev'),
      ev('release', 'a'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([]);
  });
});
