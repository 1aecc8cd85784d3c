/**
 * What the mailbox transport's configuration checks say about a value they refuse: a bigint or a
 * circular object is an ScmiConfigError naming the field, as any other bad value — not the
 * TypeError `JSON.stringify` throws for it — and the message shows the value as given: a channel
 * id `0n` reads `0n`, not `0` (which would look like a valid id).
 */
import { ScmiConfigError, VirtualClock } from '@scmi-ts/core';
import {
  createMailboxTransport,
  createSameThreadMailboxWire,
  createSmtWireLayout,
  mailboxTransport,
  validateSmtFaultRule,
} from '@scmi-ts/mailbox-transport';
import { defined } from './support/harness.js';
import { CIRCULAR, circular, errorOf } from '../../core/test/support/values.js';

/** Expects `e` to be an ScmiConfigError for `field` whose message has `text`. */
function expectRefusal(e: unknown, field: string, text: string): void {
  expect(e).toBeInstanceOf(ScmiConfigError);
  expect((e as ScmiConfigError).field).toBe(field);
  expect((e as ScmiConfigError).message).toContain(text);
}

const KINDS = [
  ['a bigint', 0n, '0n'],
  ['a circular object', circular(), CIRCULAR],
] as const;

describe('the mailbox transport configuration checks, given a value JSON cannot write', () => {
  const validate = (section: unknown): unknown =>
    mailboxTransport.validateConfig?.(section, 'transportConfig');
  const wire = createSameThreadMailboxWire(new VirtualClock()).wire;
  const [a2p, p2a] = [defined(wire.layout.channels[0]), defined(wire.layout.channels[1])];
  const at = 'transportConfig.wire.layout';

  describe.each(KINDS)('such as %s', (_, value, shown) => {
    it.each<[string, () => unknown, string]>([
      ['freeWaitMs', () => ({ wire, freeWaitMs: value }), 'transportConfig.freeWaitMs'],
      ...(['direction', 'id', 'offset', 'mailbox'] as const).map(
        (key): [string, () => unknown, string] => [
          `channels[1].${key}`,
          () => ({
            wire: {
              ...wire,
              layout: { ...wire.layout, channels: [a2p, { ...p2a, [key]: value }] },
            },
          }),
          `${at}.channels[1].${key}`,
        ],
      ),
    ])('should refuse it at %s with an ScmiConfigError naming the field', (_, section, field) => {
      expectRefusal(
        errorOf(() => validate(section())),
        field,
        `got ${shown}`,
      );
    });

    it('should refuse it as the area size, showing it', () => {
      const layout = { ...wire.layout, areaSize: value };
      expectRefusal(
        errorOf(() => validate({ wire: { ...wire, layout } })),
        `${at}.areaSize`,
        `an SMT area of ${shown} bytes cannot hold`,
      );
    });

    it('should refuse it as a per-channel section, showing it', () => {
      expectRefusal(
        errorOf(() => mailboxTransport.validateChannelConfig?.(value, 'a2p[0].transport')),
        'a2p[0].transport',
        `leave it out, got ${shown}`,
      );
    });

    it('should refuse it as a unidirectional channel’s reply or acknowledgement mailbox', () => {
      const uni = createSameThreadMailboxWire(new VirtualClock(), {
        nodes: [{ shmem: [0, 0], mboxes: 4 }],
      }).wire;
      const [tx, rx] = [defined(uni.layout.channels[0]), defined(uni.layout.channels[1])];
      const section = (...channels: unknown[]): unknown => ({
        wire: { ...uni, layout: { ...uni.layout, channels } },
      });
      expectRefusal(
        errorOf(() => validate(section({ ...tx, replyMailbox: value }, rx))),
        `${at}.channels[0].replyMailbox`,
        `got ${shown}`,
      );
      expectRefusal(
        errorOf(() => validate(section(tx, { ...rx, ackMailbox: value }))),
        `${at}.channels[1].ackMailbox`,
        `got ${shown}`,
      );
    });

    it.each<[string, () => unknown, string]>([
      ['areaSize', () => ({ areaSize: value }), 'areaSize'],
      ['a2p[1]', () => ({ a2p: [0, value] }), 'a2p[1]'],
      ['p2a', () => ({ p2a: value }), 'p2a'],
      ['nodes', () => ({ nodes: value }), 'nodes'],
      ['nodes[0].shmem', () => ({ nodes: [{ shmem: value }] }), 'nodes[0].shmem'],
      ['nodes[0].shmem[0]', () => ({ nodes: [{ shmem: [value] }] }), 'nodes[0].shmem[0]'],
      ['nodes[0].mboxes', () => ({ nodes: [{ shmem: [0], mboxes: value }] }), 'nodes[0].mboxes'],
    ])('should refuse it in a wire layout’s options at %s, showing it', (_, options, field) => {
      expectRefusal(
        errorOf(() => createSmtWireLayout(options() as never)),
        field,
        `got ${shown}`,
      );
    });
  });

  it('should show a bigint limit of createMailboxTransport as a bigint', () => {
    for (const key of ['maxMsg', 'maxMsgSize', 'rxTimeoutMs']) {
      expect(() => createMailboxTransport({ [key]: 20n })).toThrow(
        new RangeError(`${key} must be a positive integer, got 20n`),
      );
    }
  });
});

describe('validateSmtFaultRule, given a bigint', () => {
  it.each<[string, unknown, string]>([
    [
      'match.channelId',
      { match: { channelId: 1n }, action: { kind: 'drop' } },
      'rule.match.channelId',
    ],
    ['match.nth', { match: { nth: 2n }, action: { kind: 'drop' } }, 'rule.match.nth'],
    ['action.kind', { action: { kind: 1n } }, 'rule.action.kind'],
  ])('should refuse it at %s with an ScmiConfigError showing it', (_, rule, field) => {
    expectRefusal(
      errorOf(() => validateSmtFaultRule(rule)),
      field,
      'n',
    );
    expect((errorOf(() => validateSmtFaultRule(rule)) as Error).message).toMatch(/got [12]n$/);
  });
});
