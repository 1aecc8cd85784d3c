import { checkTeardownLog } from '@scmi-ts/conformance';
import { Devres, DevresEventLog, type DevresEvent } from '@scmi-ts/devres';

let seq = 0;
const ev = (type: DevresEvent['type'], resource: string, device = 'dev'): DevresEvent => ({
  seq: ++seq,
  type,
  device,
  resource,
  group: '',
});
/** A step that ran to its end: its beginning and its end event. */
const step = (phase: 'quiesce' | 'release', resource: string, device = 'dev'): DevresEvent[] => [
  ev(phase, resource, device),
  ev(`${phase}-end`, resource, device),
];

describe(checkTeardownLog, () => {
  it('should accept a clean teardown with repeated names', () => {
    const log = [
      ev('add', 'buf'),
      ev('add', 'buf'),
      ev('teardown-begin', 'dev'),
      ...step('quiesce', 'buf'),
      ...step('release', 'buf'),
      ...step('release', 'buf'),
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
      ...step('quiesce', 'a'),
      ...step('release', 'a'),
      ev('teardown-end', 'dev'),
      ev('add', 'b', 'dev2'),
      ev('teardown-begin', 'dev2', 'dev2'),
      ...step('quiesce', 'b', 'dev2'),
      ...step('release', 'b', 'dev2'),
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
      ...step('release', 'a'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([]);
  });

  it('should accept the log of a real teardown with asynchronous steps', async () => {
    const log = new DevresEventLog();
    const res = new Devres('real', { log: log.sink });
    const later = (): Promise<void> => new Promise((r) => setImmediate(r));
    for (const n of ['a', 'b', 'c']) res.add({ name: n, value: n, quiesce: later, release: later });
    await res.releaseAll();
    expect(log.filter('release-end')).toHaveLength(3);
    expect(checkTeardownLog(log.events)).toEqual([]);
  });

  it('should accept real teardowns that join early releases: awaited by a release step, or begun before', async () => {
    const log = new DevresEventLog();
    const later = (): Promise<void> => new Promise((r) => setImmediate(r));
    // A release step that awaits the early release of the next older resource (devres's way for
    // the step to own that release's error), and one that releases the next older group.
    const res = new Devres('joined', { log: log.sink });
    res.add({ name: 'a', value: 0, quiesce: later, release: later });
    const g = res.openGroup('g');
    g.add({ name: 'x', value: 0, release: later });
    g.close();
    const b = res.add({ name: 'b', value: 0, quiesce: later, release: later });
    res.add({ name: 'c', value: 0, release: () => res.release(b) });
    const g2 = res.openGroup('g2');
    g2.add({ name: 'y', value: 0, release: later });
    g2.close();
    res.add({ name: 'e', value: 0, release: () => g2.releaseAll() });
    await res.releaseAll();
    // Two early releases running, newest first, when the teardown begins: one releasing, one
    // quiescing.
    const early = new Devres('early', { log: log.sink });
    const b1 = early.add({ name: 'b1', value: 0, quiesce: later, release: later });
    const b2 = early.add({ name: 'b2', value: 0, release: later });
    const releasing = [early.release(b2), early.release(b1)];
    await early.releaseAll();
    await Promise.all(releasing);
    expect(log.filter('release-end')).toHaveLength(8);
    expect(checkTeardownLog(log.events)).toEqual([]);
  });

  it('should report a release step that begins while a newer one is still running', () => {
    const log = [
      ev('add', 'a'),
      ev('add', 'b'),
      ev('teardown-begin', 'dev'),
      ev('release', 'b'),
      ev('release', 'a'),
      ev('release-end', 'b'),
      ev('release-end', 'a'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([
      'the release of /a began while the release step of /b was running',
    ]);
  });

  it('should report a release step that begins while a quiesce step is still running', () => {
    // Every quiesce begins before the first release, so only the end events show the overlap.
    const log = [
      ev('add', 'a'),
      ev('add', 'b'),
      ev('teardown-begin', 'dev'),
      ...step('quiesce', 'b'),
      ev('quiesce', 'a'),
      ev('release', 'b'),
      ev('quiesce-end', 'a'),
      ev('release-end', 'b'),
      ...step('release', 'a'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([
      'the release of /b began while the quiesce step of /a was running',
    ]);
  });

  it('should report a step still running when its teardown ended, or never ended', () => {
    const log = [
      ev('add', 'a'),
      ev('add', 'b', 'dev2'),
      ev('teardown-begin', 'dev'),
      ev('quiesce', 'a'),
      ev('teardown-end', 'dev'),
      ev('quiesce-end', 'a'),
      ...step('release', 'a'),
      ev('teardown-begin', 'dev2', 'dev2'),
      ev('release', 'b', 'dev2'),
    ];
    expect(checkTeardownLog(log)).toEqual([
      'dev: the teardown ended while the quiesce step of /a was running',
      'dev2: the release step of /b never ended',
    ]);
  });

  it('should report an end without its beginning', () => {
    const log = [
      ev('add', 'a'),
      ev('teardown-begin', 'dev'),
      ev('quiesce-end', 'a'),
      ...step('release', 'a'),
      ev('release-end', 'a'),
      ev('teardown-end', 'dev'),
    ];
    expect(checkTeardownLog(log)).toEqual([
      'the quiesce step of /a ended without beginning',
      'the release step of /a ended without beginning',
    ]);
  });
});
