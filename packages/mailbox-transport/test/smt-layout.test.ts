import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import {
  ScmiConfigError,
  ScmiStatus,
  SharedDoorbell,
  VirtualClock,
  type Clock,
} from '@scmi-ts/core';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_FLAGS_OFFSET,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SMT_HEADER_SIZE,
  SMT_LENGTH_OFFSET,
  SMT_PAYLOAD_OFFSET,
  SMT_STATUS_OFFSET,
  SharedMailboxController,
  SmtArea,
  createSameThreadMailboxWire,
  createSharedMailboxWire,
  createSmtWireLayout,
  openSharedPlatformEnd,
  type SameThreadMailboxWireOptions,
  type SharedMailboxWireOptions,
  type SmtWireLayoutOptions,
} from '@scmi-ts/mailbox-transport';
import { findSmtChannel, smtMailboxCount } from '../src/smt/smt-wire-layout.js';
import { sleepsAfterExchange } from './support/poll-window.js';

describe(SmtArea, () => {
  it('should match the Linux shmem.c layout', () => {
    expect([
      SMT_STATUS_OFFSET,
      SMT_FLAGS_OFFSET,
      SMT_LENGTH_OFFSET,
      SMT_HEADER_OFFSET,
      SMT_PAYLOAD_OFFSET,
    ]).toEqual([0x04, 0x10, 0x14, 0x18, 0x1c]);
    expect([SMT_CHANNEL_FREE, SMT_CHANNEL_ERROR, SMT_FLAG_INTR_ENABLED]).toEqual([1, 2, 1]);
    expect(SMT_HEADER_SIZE).toBe(28);
    expect(SMT_DEFAULT_AREA_SIZE).toBe(156);
  });

  describe('.refuse', () => {
    it('should write PROTOCOL_ERROR after the header and length 8, then CHANNEL_ERROR | CHANNEL_FREE, leaving the header', () => {
      const a = new SmtArea(new SharedArrayBuffer(SMT_DEFAULT_AREA_SIZE), 0, SMT_DEFAULT_AREA_SIZE);
      a.setHeader(0x1234);
      a.setLength(12);
      a.writePayload(new Uint8Array(8), 0, 8); // a request whose first payload word is 0
      a.refuse();
      expect([a.status(), a.header(), a.payloadI32(), a.length()]).toEqual([
        SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
        0x1234,
        ScmiStatus.PROTOCOL_ERROR,
        8,
      ]);
    });

    it('should only set the bits on an area too small for a status word', () => {
      const small = new SmtArea(new SharedArrayBuffer(SMT_HEADER_SIZE), 0, SMT_HEADER_SIZE);
      small.setLength(4);
      small.refuse();
      expect([small.status(), small.length()]).toEqual([SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR, 4]);
    });
  });

  describe('constructor', () => {
    it('should refuse a region that is misaligned, too small or out of the buffer', () => {
      const memory = new SharedArrayBuffer(256);
      expect(() => new SmtArea(memory, 2, 128)).toThrow(RangeError);
      expect(() => new SmtArea(memory, 0, 27)).toThrow(RangeError);
      expect(() => new SmtArea(memory, 200, 128)).toThrow(RangeError);
      expect(() => new SmtArea(memory, -4, 128)).toThrow(RangeError);
      expect(new SmtArea(memory, 128, 128).maxPayload).toBe(100);
    });
  });

  describe('having an area at an offset', () => {
    const memory = new SharedArrayBuffer(64 + 128);
    const area = new SmtArea(memory, 64, 128);
    const raw = new DataView(memory, 64);

    it('should write every field little-endian at its offset', () => {
      area.setStatus(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      area.setFlags(SMT_FLAG_INTR_ENABLED);
      area.setLength(12);
      area.setHeader(0x12345678);
      area.writePayload(new Uint8Array([0xfe, 0xff, 0xff, 0xff, 9]), 0, 5);
      expect(raw.getUint32(0x04, true)).toBe(3);
      expect(raw.getUint32(0x10, true)).toBe(1);
      expect(raw.getUint32(0x14, true)).toBe(12);
      expect(raw.getUint32(0x18, true)).toBe(0x12345678);
      expect(area.payloadI32()).toBe(-2);
      expect(raw.getUint8(0x20)).toBe(9);
      expect([area.status(), area.flags(), area.length(), area.header()]).toEqual([
        3, 1, 12, 0x12345678,
      ]);
      expect(area.isFree()).toBe(true);
      area.setStatus(0);
      expect(area.isFree()).toBe(false);
    });

    it('should clamp a hostile length and never write past the area', () => {
      area.setLength(0xffffffff);
      expect(area.length()).toBe(0xffffffff);
      expect(area.clampedLength()).toBe(128 - 0x18);
      const big = new Uint8Array(500).fill(7);
      expect(area.writePayload(big, 0, 500)).toBe(100);
      expect(area.writePayload(big, 498, 100)).toBe(2);
      expect(area.writePayload(big, 0, -3)).toBe(0);
      expect(new Uint8Array(memory, 0, 64).every((b) => b === 0)).toBe(true);
    });
  });
});

describe(createSmtWireLayout, () => {
  it('should place one area per channel, A2P first, each free, with its own mailbox channel', () => {
    const layout = createSmtWireLayout({ a2p: [0, 2], p2a: [0] });
    expect(layout.areaSize).toBe(156);
    expect(layout.memory.byteLength).toBe(3 * 156);
    expect(layout.channels).toEqual([
      { direction: 'a2p', id: 0, offset: 0, mailbox: 0 },
      { direction: 'a2p', id: 2, offset: 156, mailbox: 1 },
      { direction: 'p2a', id: 0, offset: 312, mailbox: 2 },
    ]);
    for (const c of layout.channels) {
      expect(new SmtArea(layout.memory, c.offset, layout.areaSize).status()).toBe(SMT_CHANNEL_FREE);
    }
    expect(findSmtChannel(layout, 'a2p', 2)?.mailbox).toBe(1);
    expect(findSmtChannel(layout, 'p2a', 1)).toBeUndefined();
    expect(smtMailboxCount(layout)).toBe(3);
  });

  it('should default to A2P 0 and P2A 0, and allow a wire without P2A', () => {
    expect(createSmtWireLayout().channels.map((c) => `${c.direction}:${c.id}`)).toEqual([
      'a2p:0',
      'p2a:0',
    ]);
    expect(createSmtWireLayout({ p2a: [] }).channels).toHaveLength(1);
  });

  it('should name the invalid field', () => {
    const field = fieldOfConfigError;
    expect(field(() => createSmtWireLayout({ areaSize: 130 }))).toBe('areaSize');
    expect(field(() => createSmtWireLayout({ areaSize: 24 }))).toBe('areaSize');
    // The SMT header alone, no room for a response's status.
    expect(field(() => createSmtWireLayout({ areaSize: 28 }))).toBe('areaSize');
    expect(createSmtWireLayout({ areaSize: 32 }).areaSize).toBe(32);
    expect(field(() => createSmtWireLayout({ a2p: [0, 0] }))).toBe('a2p[1]');
    expect(field(() => createSmtWireLayout({ p2a: [-1] }))).toBe('p2a[0]');
  });

  it('should refuse ids that are not an array with an ScmiConfigError naming a2p or p2a, not a TypeError', () => {
    const field = fieldOfConfigError;
    const notIds = (v: unknown): number[] => v as number[];
    expect(() => createSmtWireLayout({ a2p: notIds(0) })).toThrow(ScmiConfigError);
    expect(field(() => createSmtWireLayout({ a2p: notIds(0) }))).toBe('a2p');
    expect(field(() => createSmtWireLayout({ p2a: notIds('01') }))).toBe('p2a');
    expect(field(() => createSmtWireLayout({ a2p: notIds({ length: 1, 0: 0 }) }))).toBe('a2p');
    expect(field(() => createSmtWireLayout(null as unknown as SmtWireLayoutOptions))).toBe(
      'options',
    );
  });

  it('should refuse an id that is not a number, and the hole of a sparse array, naming its index', () => {
    const field = fieldOfConfigError;
    expect(field(() => createSmtWireLayout({ a2p: ['1' as unknown as number] }))).toBe('a2p[0]');
    expect(field(() => createSmtWireLayout({ a2p: [0, 1.5] }))).toBe('a2p[1]');
    // eslint-disable-next-line no-sparse-arrays
    expect(field(() => createSmtWireLayout({ p2a: [0, , 2] as unknown as number[] }))).toBe(
      'p2a[1]',
    );
    const huge: number[] = [];
    huge.length = 2 ** 32 - 1; // all holes: refused at the first, not walked
    expect(field(() => createSmtWireLayout({ a2p: huge }))).toBe('a2p[0]');
  });

  it('should refuse an area size that is not a number or past 1 GiB, and a wire past 1 GiB, before allocating', () => {
    const field = fieldOfConfigError;
    expect(field(() => createSmtWireLayout({ areaSize: '156' as unknown as number }))).toBe(
      'areaSize',
    );
    expect(() => createSmtWireLayout({ areaSize: 2 ** 40 })).toThrow(ScmiConfigError);
    expect(field(() => createSmtWireLayout({ areaSize: 2 ** 40 }))).toBe('areaSize');
    // 1024 areas of 1 MiB are the whole 1 GiB: the next one is refused, by name
    const ids = Array.from({ length: 1024 }, (_, i) => i);
    expect(field(() => createSmtWireLayout({ a2p: ids, p2a: [0], areaSize: 2 ** 20 }))).toBe(
      'p2a[0]',
    );
  });

  it('should leave its options as they were when it refuses them', () => {
    const options = Object.freeze({ a2p: Object.freeze([0, 0]), p2a: Object.freeze([0]) });
    expect(fieldOfConfigError(() => createSmtWireLayout(options))).toBe('a2p[1]');
    expect(options).toEqual({ a2p: [0, 0], p2a: [0] });
  });

  describe('having device tree nodes (nodes)', () => {
    it("should map each of Linux's mboxes / shmem combinations to the mailbox channels mailbox_chan_validate picks", () => {
      const channels = (shmem: number[], mboxes?: number): unknown =>
        createSmtWireLayout({ nodes: [{ shmem, ...(mboxes === undefined ? {} : { mboxes }) }] })
          .channels;
      // 1 / 1 and 2 / 2: bidirectional, one mailbox channel per area (also the default count).
      expect(channels([0], 1)).toEqual([{ direction: 'a2p', id: 0, offset: 0, mailbox: 0 }]);
      expect(channels([0, 0])).toEqual([
        { direction: 'a2p', id: 0, offset: 0, mailbox: 0 },
        { direction: 'p2a', id: 0, offset: 156, mailbox: 1 },
      ]);
      // 2 / 1: tx and tx_reply (a2p_rx_chan = 1).
      expect(channels([0], 2)).toEqual([
        { direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
      ]);
      // 3 / 2: tx, tx_reply, rx (p2a_chan = 2, no p2a_rx_chan).
      expect(channels([0, 0], 3)).toEqual([
        { direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
        { direction: 'p2a', id: 0, offset: 156, mailbox: 2, ackMailbox: 'none' },
      ]);
      // 4 / 2: tx, tx_reply, rx, rx_reply (p2a_rx_chan = 3).
      expect(channels([0, 0], 4)).toEqual([
        { direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
        { direction: 'p2a', id: 0, offset: 156, mailbox: 2, ackMailbox: 3 },
      ]);
    });

    it("should place each node's areas and mailbox channels after the previous node's, each area free", () => {
      const layout = createSmtWireLayout({
        nodes: [{ shmem: [0, 0], mboxes: 4 }, { shmem: [1], mboxes: 2 }, { shmem: [2] }],
      });
      expect(layout.channels).toEqual([
        { direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
        { direction: 'p2a', id: 0, offset: 156, mailbox: 2, ackMailbox: 3 },
        { direction: 'a2p', id: 1, offset: 312, mailbox: 4, replyMailbox: 5 },
        { direction: 'a2p', id: 2, offset: 468, mailbox: 6 },
      ]);
      expect(layout.memory.byteLength).toBe(4 * 156);
      for (const c of layout.channels) {
        expect(new SmtArea(layout.memory, c.offset, layout.areaSize).status()).toBe(
          SMT_CHANNEL_FREE,
        );
      }
      expect(smtMailboxCount(layout)).toBe(7);
    });

    it('should refuse a combination Linux refuses with an ScmiConfigError naming the count that cannot be right', () => {
      const refusal = (node: unknown): { field: string; message: string } | undefined => {
        try {
          createSmtWireLayout({ nodes: [{ shmem: [0] }, node as never] });
        } catch (e) {
          if (ScmiConfigError.is(e)) return { field: e.field, message: e.message };
          throw e;
        }
        return undefined;
      };
      const threeShmem = refusal({ shmem: [1, 1, 2], mboxes: 2 });
      expect(threeShmem?.field).toBe('nodes[1].shmem');
      expect(threeShmem?.message).toMatch(
        /nodes\[1\].shmem: 3 shmem: Linux \(mailbox_chan_validate\) takes a node with 1 \(A2P\) or 2/,
      );
      expect(refusal({ shmem: [], mboxes: 1 })?.field).toBe('nodes[1].shmem');
      // The area count is named first, whatever mboxes says (or when it is left out).
      expect(refusal({ shmem: [] })?.field).toBe('nodes[1].shmem');
      expect(refusal({ shmem: [1, 2, 3], mboxes: 'x' })?.field).toBe('nodes[1].shmem');
      expect(refusal({ shmem: [1, 1, 2] })?.field).toBe('nodes[1].shmem');
      for (const [shmem, mboxes] of [
        [[1, 1], 1],
        [[1], 3],
        [[1], 4],
        [[1, 1], 5],
      ] as const) {
        const refused = refusal({ shmem, mboxes });
        expect(refused?.field).toBe('nodes[1].mboxes');
        expect(refused?.message).toContain(`${mboxes} mbox with ${shmem.length} shmem`);
      }
      for (const mboxes of [0, -1, 2.5, '2', null]) {
        expect(refusal({ shmem: [1], mboxes })?.field).toBe('nodes[1].mboxes');
      }
    });

    it('should refuse nodes that are not an array, a node that is not one, bad or repeated ids, and nodes with a2p / p2a', () => {
      const field = fieldOfConfigError;
      const nodes = (v: unknown): NonNullable<SmtWireLayoutOptions['nodes']> => v as never;
      expect(() => createSmtWireLayout({ nodes: nodes({}) })).toThrow(ScmiConfigError);
      expect(field(() => createSmtWireLayout({ nodes: nodes({}) }))).toBe('nodes');
      expect(field(() => createSmtWireLayout({ nodes: nodes([7]) }))).toBe('nodes[0]');
      // eslint-disable-next-line no-sparse-arrays
      expect(field(() => createSmtWireLayout({ nodes: nodes([{ shmem: [0] }, , {}]) }))).toBe(
        'nodes[1]',
      );
      expect(field(() => createSmtWireLayout({ nodes: nodes([{ shmem: 0 }]) }))).toBe(
        'nodes[0].shmem',
      );
      expect(field(() => createSmtWireLayout({ nodes: [{ shmem: [0, 70000] }] }))).toBe(
        'nodes[0].shmem[1]',
      );
      // eslint-disable-next-line no-sparse-arrays
      expect(field(() => createSmtWireLayout({ nodes: [{ shmem: [, 1] as number[] }] }))).toBe(
        'nodes[0].shmem[0]',
      );
      expect(field(() => createSmtWireLayout({ nodes: [{ shmem: [0] }, { shmem: [0] }] }))).toBe(
        'nodes[1].shmem[0]',
      );
      expect(
        field(() => createSmtWireLayout({ nodes: [{ shmem: [0, 1] }, { shmem: [1, 1] }] })),
      ).toBe('nodes[1].shmem[1]');
      expect(field(() => createSmtWireLayout({ a2p: [0], nodes: [{ shmem: [1] }] }))).toBe('nodes');
      expect(createSmtWireLayout({ nodes: [] }).channels).toEqual([]);
    });

    it('should refuse a node past 1024 mailbox channels or past 1 GiB, by name, before allocating', () => {
      const field = fieldOfConfigError;
      const nodes = (
        n: number,
        mboxes: number,
        shmem = 2,
      ): NonNullable<SmtWireLayoutOptions['nodes']> =>
        Array.from({ length: n }, (_, i) => ({
          shmem: shmem === 2 ? [i, i] : [i],
          mboxes,
        }));
      expect(
        field(() =>
          createSameThreadMailboxWire(new VirtualClock(), { nodes: nodes(257, 4), areaSize: 32 }),
        ),
      ).toBe('nodes[256].mboxes');
      expect(
        createSameThreadMailboxWire(new VirtualClock(), { nodes: nodes(256, 4), areaSize: 32 })
          .controller.channelCount,
      ).toBe(1024);
      expect(field(() => createSmtWireLayout({ nodes: nodes(513, 2), areaSize: 2 ** 20 }))).toBe(
        'nodes[512].shmem',
      );
    });
  });
});

describe(createSameThreadMailboxWire, () => {
  it('should make the controller with the TX-done method asked for, one channel per area', () => {
    const { controller, wire } = createSameThreadMailboxWire(new VirtualClock(), {
      a2p: [0, 1],
      txDoneMethod: 'poll',
    });
    expect([controller.txDoneMethod, controller.channelCount]).toEqual(['poll', 3]);
    expect(wire.controller).toBe(controller);
    expect(createSameThreadMailboxWire(new VirtualClock()).controller.txDoneMethod).toBe('irq');
  });

  it('should refuse an unknown txDoneMethod with an ScmiConfigError naming it, not take it for poll', () => {
    const clock = new VirtualClock();
    const method = (v: unknown): 'irq' => v as 'irq';
    expect(() => createSameThreadMailboxWire(clock, { txDoneMethod: method('bogus') })).toThrow(
      ScmiConfigError,
    );
    for (const bad of ['bogus', 'ack', 'IRQ', '', null, 1]) {
      expect(
        fieldOfConfigError(() => createSameThreadMailboxWire(clock, { txDoneMethod: method(bad) })),
      ).toBe('txDoneMethod');
    }
    expect([clock.pendingTasks, clock.armedTimers]).toEqual([0, 0]);
  });

  it('should refuse more than 1024 channels with an ScmiConfigError naming the first id past them, not a RangeError', () => {
    const clock = new VirtualClock();
    const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    expect(() =>
      createSameThreadMailboxWire(clock, { a2p: ids(1025), p2a: [], areaSize: 32 }),
    ).toThrow(ScmiConfigError);
    expect(
      fieldOfConfigError(() =>
        createSameThreadMailboxWire(clock, { a2p: ids(1025), p2a: [], areaSize: 32 }),
      ),
    ).toBe('a2p[1024]');
    expect(
      fieldOfConfigError(() =>
        createSameThreadMailboxWire(clock, { a2p: ids(1024), p2a: [0], areaSize: 32 }),
      ),
    ).toBe('p2a[0]');
    const full = createSameThreadMailboxWire(clock, { a2p: ids(1023), p2a: [0], areaSize: 32 });
    expect(full.controller.channelCount).toBe(1024);
  });

  it('should refuse a clock that is not one, and options that are not an object', () => {
    const field = fieldOfConfigError;
    expect(field(() => createSameThreadMailboxWire({} as Clock))).toBe('clock');
    expect(field(() => createSameThreadMailboxWire(undefined as unknown as Clock))).toBe('clock');
    expect(
      field(() =>
        createSameThreadMailboxWire(
          new VirtualClock(),
          0 as unknown as SameThreadMailboxWireOptions,
        ),
      ),
    ).toBe('options');
  });
});

describe(createSharedMailboxWire, () => {
  it('should allocate the region with the TX-done method asked for', () => {
    const { wire, spec } = createSharedMailboxWire({ a2p: [0], p2a: [], txDoneMethod: 'poll' });
    expect(wire.controller.txDoneMethod).toBe('poll');
    expect(new SharedMailboxController(spec.region).txDoneMethod).toBe('poll');
    expect(createSharedMailboxWire().wire.controller.txDoneMethod).toBe('irq');
  });

  it('should refuse an unknown txDoneMethod with an ScmiConfigError naming it, not take it for poll', () => {
    const method = (v: unknown): 'irq' => v as 'irq';
    expect(() => createSharedMailboxWire({ txDoneMethod: method('bogus') })).toThrow(
      ScmiConfigError,
    );
    for (const bad of ['bogus', 'ack', null]) {
      expect(fieldOfConfigError(() => createSharedMailboxWire({ txDoneMethod: method(bad) }))).toBe(
        'txDoneMethod',
      );
    }
  });

  it.each([
    [0, 1_000_000, true],
    [1_000_000, 0, true],
    // The defaults: 50 µs on more than one CPU (no wait), 0 on one.
    [undefined, undefined, SharedDoorbell.defaultPollWindowUs() === 0],
  ])(
    'should build the agent’s doorbells with pollWindowUs %p and the platform end’s with %p (a new wait armed after an exchange: %p)',
    async (agentWindow, platformWindow, sleeps) => {
      const { wire, spec } = createSharedMailboxWire({
        a2p: [0],
        p2a: [],
        ...(agentWindow === undefined ? {} : { pollWindowUs: agentWindow }),
      });
      const end = openSharedPlatformEnd(
        spec,
        platformWindow === undefined ? {} : { pollWindowUs: platformWindow },
      );
      await expect(sleepsAfterExchange(wire.controller, end.remote(0))).resolves.toBe(sleeps);
    },
  );

  it('should refuse a bad pollWindowUs on either end with an ScmiConfigError naming it', () => {
    expect(fieldOfConfigError(() => createSharedMailboxWire({ pollWindowUs: -1 }))).toBe(
      'pollWindowUs',
    );
    const { spec } = createSharedMailboxWire();
    expect(
      fieldOfConfigError(() => openSharedPlatformEnd(spec, { pollWindowUs: Number.NaN })),
    ).toBe('pollWindowUs');
  });

  it('should refuse more than 1024 channels, a clock that is not one, and options that are not an object', () => {
    const field = fieldOfConfigError;
    const ids = Array.from({ length: 1025 }, (_, i) => i);
    expect(field(() => createSharedMailboxWire({ a2p: ids, p2a: [], areaSize: 32 }))).toBe(
      'a2p[1024]',
    );
    expect(field(() => createSharedMailboxWire({ clock: 5 as unknown as Clock }))).toBe('clock');
    expect(field(() => createSharedMailboxWire('a2p' as unknown as SharedMailboxWireOptions))).toBe(
      'options',
    );
  });
});
