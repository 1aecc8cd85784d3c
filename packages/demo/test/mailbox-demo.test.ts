import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { runMailboxDemo } from '../src/mailbox-demo.js';

describe(runMailboxDemo, () => {
  ensureNoLeaksInSuite();

  it('should show discovery, Base commands, and the seed scenario torn down quiesce-first, newest first', async () => {
    const lines: string[] = [];
    await runMailboxDemo((l) => lines.push(l));
    const out = lines.join('\n');
    expect(out).toMatch(/vendor\s+scmi-ts/);
    expect(out).toMatch(/sub-vendor\s+emulated/);
    expect(out).toMatch(/0x14 clock\s+v3\.0/);
    expect(out).toMatch(/DISCOVER_AGENT\(2\)\s+PSCI/);
    expect(out).toMatch(/raw 0x14 CLOCK_ATTRIBUTES\(0\)\s+"cpu-pll"/);
    expect(out).toContain('probe failed after');
    expect(out).toContain('E_TIMEOUT');
    const start = lines.findIndex((l) => l.includes('teardown log'));
    const steps = lines
      .slice(start + 1)
      .filter((l) => /^ {4}(quiesce|release) /.test(l))
      .map((l) =>
        l.trim().split(/\s+/).slice(0, 1).concat(l.trim().split(/\s+/).slice(2, -1)).join(' '),
      );
    expect(steps).toEqual([
      'quiesce agent gate',
      'quiesce channel p2a:0',
      'quiesce channel a2p:0',
      'quiesce transfers',
      'quiesce notifications',
      'release agent gate',
      'release channel p2a:0',
      'release channel a2p:0',
      'release transfers',
      'release notifications',
    ]);
    expect(out).toMatch(/the platform's late reply landed/);
    expect(out).toMatch(/callbacks on released channels\s+0/);
    expect(out).toMatch(/channels released\s+a2p:0 ×1, p2a:0 ×1/);
    expect(out).toMatch(/platform timers left\s+0/);
    expect(lines.at(-1)).toBe('platform worker stopped; done.');
  });
});
