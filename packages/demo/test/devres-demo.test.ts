import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { runDevresDemo } from '../src/devres-demo.js';

describe(runDevresDemo, () => {
  ensureNoLeaksInSuite();

  it('should print the quiesce steps newest first, then the release steps newest first', async () => {
    const lines: string[] = [];
    await runDevresDemo((l) => lines.push(l));
    const out = lines.join('\n');
    expect(out).toContain('probe failed: Base PROTOCOL_VERSION timed out');
    const failed = lines.slice(0, lines.indexOf('devres: a probe that succeeds, then remove'));
    const steps = failed
      .filter((l) => /^ {2}(quiesce|release) /.test(l))
      .map((l) => l.trim().replace(/\s+/g, ' '));
    expect(steps).toEqual([
      'quiesce scmi0 mailbox channel p2a:0 (probe-failed)',
      'quiesce scmi0 mailbox channel a2p:0 (probe-failed)',
      'release scmi0 transfer pool (20 transfers) (probe-failed)',
      'release scmi0 mailbox channel p2a:0 (probe-failed)',
      'release scmi0 mailbox channel a2p:0 (probe-failed)',
    ]);
    const removed = lines.slice(lines.indexOf('devres: a probe that succeeds, then remove'));
    expect(
      removed
        .filter((l) => l.trim().startsWith('release'))
        .map((l) => l.trim().split(/\s+/).slice(2).join(' ')),
    ).toEqual([
      'notification queue (remove)',
      'protocol 0x14 (clock)/clock notifications (remove)',
      'transfer pool (20 transfers) (remove)',
      'mailbox channel p2a:0 (remove)',
      'mailbox channel a2p:0 (remove)',
    ]);
  });
});
