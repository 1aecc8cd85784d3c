/**
 * What the agent configuration checks say about a value they refuse: a bigint or a circular
 * object is an ScmiConfigError naming the field, as any other bad value — not the TypeError
 * `JSON.stringify` throws for it — and the message shows the value as given (`1n`, not `1`).
 */
import {
  ScmiConfigError,
  SharedDoorbell,
  TRANSPORT,
  VirtualClock,
  createAgent,
  startWorker,
  validateAgentConfig,
  type Transport,
} from '@scmi-ts/core';
import { NotificationHub } from '../src/notification/notification-hub.js';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';
import { CIRCULAR, circular } from './support/values.js';

/** The error `run` throws or rejects with (undefined when it does neither). */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Expects `e` to be an ScmiConfigError for `field` whose message ends with `got <shown>`. */
function expectRefusal(e: unknown, field: string, shown: string): void {
  expect(e).toBeInstanceOf(ScmiConfigError);
  expect((e as ScmiConfigError).field).toBe(field);
  expect((e as ScmiConfigError).message.endsWith(` ${shown}`)).toBe(true);
}

describe('the agent configuration checks, given a value JSON cannot write', () => {
  ensureNoLeaksInSuite();

  // [kind of value, field, option, value, shown]
  const cases: [string, string, string, unknown, string][] = [];
  for (const [kind, value, shown] of [
    ['a bigint', 1n, '1n'],
    ['a circular object', circular(), CIRCULAR],
  ] as const) {
    cases.push(
      [kind, 'maxMsg', 'maxMsg', value, shown],
      [kind, 'rxTimeoutMs', 'rxTimeoutMs', value, shown],
      [kind, 'asyncTimeoutMs', 'asyncTimeoutMs', value, shown],
      [kind, 'notificationQueueDepth', 'notificationQueueDepth', value, shown],
      [kind, 'a2p[0].id', 'a2p', [{ id: value }], shown],
      [kind, 'a2p[1].protocols[1]', 'a2p', [{ id: 0 }, { id: 1, protocols: [0x14, value] }], shown],
      [kind, 'p2a[0].id', 'p2a', [{ id: value }], shown],
    );
  }

  it.each(cases)(
    'should refuse %s at %s with an ScmiConfigError naming that field, showing the value',
    async (_, field, option, value, shown) => {
      const h = createHarness();
      const transport = h.container.get(TRANSPORT);
      const options = { transport: 'loopback', [option]: value };
      expectRefusal(await errorOf(() => validateAgentConfig(options, transport)), field, shown);
      expectRefusal(await errorOf(() => createAgent(h.container, options)), field, shown);
      expect(h.platform.requests).toHaveLength(0);
    },
  );

  it.each<[unknown, string]>([
    [1n, '1n'],
    [circular(), CIRCULAR],
    [Symbol('loopback'), 'Symbol(loopback)'],
  ])('should refuse the transport name %p, naming the field transport', async (name, shown) => {
    const h = createHarness();
    const e = await errorOf(() => createAgent(h.container, { transport: name } as never));
    expect(e).toBeInstanceOf(ScmiConfigError);
    expect((e as ScmiConfigError).field).toBe('transport');
    expect((e as ScmiConfigError).message).toContain(`unknown transport ${shown}; loaded:`);
  });

  it('should show NaN and -0 as such, where JSON would write null and 0', () => {
    const transport = createHarness().container.get(TRANSPORT);
    const refusal = (options: object): unknown => {
      try {
        validateAgentConfig({ transport: 'loopback', ...options }, transport);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expectRefusal(refusal({ rxTimeoutMs: Number.NaN }), 'rxTimeoutMs', 'NaN');
    expectRefusal(refusal({ maxMsg: -0 }), 'maxMsg', '-0');
    // A value JSON can write reads as it always did.
    expectRefusal(refusal({ maxMsg: '4' }), 'maxMsg', '"4"');
    expectRefusal(refusal({ a2p: [{ id: 0.5 }] }), 'a2p[0].id', '0.5');
  });

  it("should show what a transport's maxMsgFor gave as it is (1n, not 1)", () => {
    const transport = createHarness().container.get(TRANSPORT);
    for (const [gave, shown] of [
      [1n, '1n'],
      [Object.create(null) as object, '{}'],
      [circular(), CIRCULAR],
    ] as const) {
      const sized: Transport = { ...transport, maxMsgFor: () => gave as never };
      let error: unknown;
      try {
        validateAgentConfig({ transport: 'loopback' }, sized);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScmiConfigError);
      expect((error as ScmiConfigError).field).toBe('maxMsg');
      expect((error as ScmiConfigError).message).toContain(
        `transport loopback: maxMsgFor gave ${shown}, not an integer ≥ 1`,
      );
    }
  });
});

describe('the other checks of what a caller gives, given a bigint', () => {
  it('should refuse a subscribe source with E_ARGUMENT showing 1n, nothing sent', async () => {
    const hub = new NotificationHub('test', new VirtualClock(), 4, 32);
    hub.setP2a(true);
    hub.register(0x14, [{ id: 0, name: 'e' }]);
    const e = await errorOf(() =>
      hub.subscribe({ protocolId: 0x14, eventId: 0, source: 1n as unknown as number }, () => {
        // never called
      }),
    );
    expect(e).toMatchObject({ code: 'E_ARGUMENT' });
    expect((e as Error).message).toMatch(/source 1n is not one of its sources/);
  });

  it.each([
    [4, 5, 'test: clock event 0 (rate changed): source 5 is not one of its sources (0 to 3)'],
    [
      undefined,
      -1,
      'test: clock event 0 (rate changed): source -1 is not one of its sources (an integer from 0)',
    ],
  ])(
    'should name the event and the sources it has (%p sources, source %p)',
    async (numSources, source, message) => {
      const hub = new NotificationHub('test', new VirtualClock(), 4, 32);
      hub.setP2a(true);
      hub.register(0x14, [
        { id: 0, name: 'rate changed', ...(numSources === undefined ? {} : { numSources }) },
      ]);
      const e = await errorOf(() =>
        hub.subscribe({ protocolId: 0x14, eventId: 0, source }, () => {
          // never called
        }),
      );
      expect(e).toMatchObject({ code: 'E_ARGUMENT', message });
    },
  );

  it('should refuse a worker entry with E_WORKER_ENTRY showing 1n', async () => {
    const e = await errorOf(() => startWorker({ entry: 1n as unknown as string }));
    expect(e).toMatchObject({ code: 'E_WORKER_ENTRY' });
    expect((e as Error).message).toMatch(/got 1n$/);
  });

  it("should refuse a doorbell's waitSync timeout with an ScmiConfigError showing 1n", () => {
    const doorbell = new SharedDoorbell(new SharedArrayBuffer(16), 0, 'a');
    const e = (() => {
      try {
        doorbell.waitSync(1n as unknown as number);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expectRefusal(e, 'timeoutMs', '1n');
  });
});
