import {
  ScmiMalformedError,
  ScmiStatus,
  readU32,
  type MultiPartSpec,
  type ProtocolDriver,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { codeOfError } from './support/code-of.js';
import { captureWarnings, createHarness } from './support/harness.js';

function le32(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return b;
}

const codeOf = codeOfError(ScmiMalformedError);

describe('XferOps', () => {
  ensureNoLeaksInSuite();

  describe('.iterate', () => {
    it('should collect a multi-part reply, index += returned until remaining is 0', async () => {
      const h = createHarness();
      const items = Array.from({ length: 7 }, (_, i) => 100 + i);
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x4) return undefined;
        const index = readU32(req.payload, 4);
        const part = items.slice(index, index + 3);
        return {
          status: 0,
          returns: le32(part.length | ((items.length - index - part.length) << 16), ...part),
        };
      };
      const agent = await h.create();
      const got = await agent.xfer(0x14).iterate(0x4, {
        txSize: 8,
        prepare: (w, index) => w.u32(0).u32(index),
        counts: (r) => {
          const n = r.u32();
          return { returned: n & 0xffff, remaining: n >>> 16 };
        },
        item: (r) => r.u32(),
      });
      expect(got).toEqual(items);
      expect(
        h.platform.requests
          .filter((r) => r.protocolId === 0x14 && r.messageId === 0x4)
          .map((r) => readU32(r.payload, 4)),
      ).toEqual([0, 3, 6]);
      await agent.remove();
    });

    it.each([
      ['a negative returned (a spec that reads a signed field)', -1, 1],
      ['a NaN remaining', 1, Number.NaN],
      ['a fraction', 0.5, 1],
    ])(
      'should refuse %s from the spec with E_MULTIPART, never looping',
      async (_what, returned, remaining) => {
        const h = createHarness();
        h.platform.override = (req) =>
          req.protocolId === 0x14 && req.messageId === 0x4
            ? { status: 0, returns: le32(0x10001, 7) }
            : undefined;
        const agent = await h.create();
        const sent = h.platform.requests.length;
        await expect(
          agent.xfer(0x14).iterate(0x4, {
            txSize: 4,
            prepare: (w, index) => w.u32(index),
            counts: () => ({ returned, remaining }),
            item: (r) => r.u32(),
          }),
        ).rejects.toMatchObject({ code: 'E_MULTIPART' });
        expect(h.platform.requests.length - sent).toBe(1);
        await agent.remove();
      },
    );

    /** A spec over `returned | remaining << 16` counts and u32 items, recording what it is told. */
    function u32Spec(extra: Partial<MultiPartSpec<number>> = {}): MultiPartSpec<number> {
      return {
        txSize: 4,
        prepare: (w, index) => w.u32(index),
        counts: (r) => {
          const n = r.u32();
          return { returned: n & 0xffff, remaining: n >>> 16 };
        },
        item: (r) => r.u32(),
        ...extra,
      };
    }

    /** The indexes the platform was asked for with message 0x4 of protocol 0x14. */
    const askedIndexes = (h: ReturnType<typeof createHarness>): number[] =>
      h.platform.requests
        .filter((r) => r.protocolId === 0x14 && r.messageId === 0x4)
        .map((r) => readU32(r.payload, 0));

    it('should end the walk with the items collected when a part returns none with items remaining (Linux scmi_iterator_run), telling spec.warn', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x4) return undefined;
        const index = readU32(req.payload, 0);
        // Two items of five, then "none returned, three remaining".
        return index === 0
          ? { status: 0, returns: le32(2 | (3 << 16), 10, 11) }
          : { status: 0, returns: le32(0 | (3 << 16)) };
      };
      const agent = await h.create();
      const warned: [string, Error][] = [];
      const got = await agent
        .xfer(0x14)
        .iterate(0x4, u32Spec({ warn: (message, error) => void warned.push([message, error]) }));
      expect(got).toEqual([10, 11]);
      expect(askedIndexes(h)).toEqual([0, 2]);
      expect(warned).toHaveLength(1);
      const [message, error] = warned[0] ?? [];
      expect(message).toMatch(
        /^clock message 0x4 \(token \d+\): multi-part reply returned 0 items with 3 remaining at index 2/,
      );
      expect(error).toBeInstanceOf(ScmiMalformedError);
      expect(error).toMatchObject({ code: 'E_MULTIPART', message });
      await agent.remove();
    });

    it("should warn through the agent's logger when a part returns none with items remaining and the spec has no warn", async () => {
      const h = createHarness();
      const warnings = captureWarnings(h);
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x4) return undefined;
        return readU32(req.payload, 0) === 0
          ? { status: 0, returns: le32(1 | (4 << 16), 7) }
          : { status: 0, returns: le32(0 | (4 << 16)) };
      };
      const agent = await h.create();
      const before = warnings.length;
      await expect(agent.xfer(0x14).iterate(0x4, u32Spec())).resolves.toEqual([7]);
      expect(warnings.slice(before)).toEqual([
        expect.stringMatching(
          /^scmi0: protocol clock: clock message 0x4 \(token \d+\): multi-part reply returned 0 items with 4 remaining at index 1/,
        ),
      ]);
      await agent.remove();
    });

    it('should end with no item and no error, without spec.warn, when the first part returns none and announces more than max', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x4
          ? { status: 0, returns: le32(0 | (9999 << 16)) }
          : undefined;
      const agent = await h.create();
      await expect(agent.xfer(0x14).iterate(0x4, u32Spec({ max: 100 }))).resolves.toEqual([]);
      expect(askedIndexes(h)).toEqual([0]);
      await agent.remove();
    });

    it('should end without telling spec.warn when a part returns none and none remain', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x4
          ? { status: 0, returns: le32(0) }
          : undefined;
      const agent = await h.create();
      const warn = jest.fn();
      await expect(agent.xfer(0x14).iterate(0x4, u32Spec({ warn }))).resolves.toEqual([]);
      expect(warn).not.toHaveBeenCalled();
      await agent.remove();
    });

    it('should reject a part that announces more items than max, and one too short for its counts', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x4
          ? { status: 0, returns: le32(1 | (9999 << 16), 1) }
          : undefined;
      const agent = await h.create();
      const warn = jest.fn();
      await expect(
        agent.xfer(0x14).iterate(0x4, u32Spec({ max: 100, warn })),
      ).rejects.toMatchObject({ code: 'E_MULTIPART', message: /announces more than 100 items/ });
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x4
          ? { status: 0, returns: new Uint8Array(2) }
          : undefined;
      await expect(agent.xfer(0x14).iterate(0x4, u32Spec({ warn }))).rejects.toMatchObject({
        code: 'E_TRUNCATED',
      });
      expect(warn).not.toHaveBeenCalled();
      await agent.remove();
    });
  });

  it('should reject a later part that announces more items than the first, at its second part', async () => {
    const h = createHarness();
    let parts = 0;
    // Ignores the index: "1 returned, 1 remaining" forever.
    h.platform.override = (req) => {
      if (req.protocolId !== 0x14 || req.messageId !== 0x4) return undefined;
      parts++;
      return { status: 0, returns: le32(1 | (1 << 16), 7) };
    };
    const agent = await h.create();
    await expect(
      agent.xfer(0x14).iterate(0x4, {
        txSize: 4,
        prepare: (w, index) => w.u32(index),
        counts: (r) => {
          const n = r.u32();
          return { returned: n & 0xffff, remaining: n >>> 16 };
        },
        item: (r) => r.u32(),
      }),
    ).rejects.toMatchObject({
      code: 'E_MULTIPART',
      message: /announces 3 items at index 1, after 2/,
    });
    expect(parts).toBe(2);
    await agent.remove();
  });

  describe('.transact', () => {
    it.each([
      [0x114, 0x1],
      [0x14, 0x101],
      [-1, 0x1],
      [0x14, 1.5],
    ])(
      'should refuse protocol 0x%s / message 0x%s with E_FIELD_RANGE, not send it cut to 8 bits',
      async (protocolId, messageId) => {
        const h = createHarness();
        const agent = await h.create();
        const sent = h.platform.requests.length;
        await expect(agent.transact(protocolId, messageId)).rejects.toMatchObject({
          code: 'E_FIELD_RANGE',
        });
        expect(h.platform.requests).toHaveLength(sent);
        // Nothing was taken from the pool: the agent still has every transfer.
        await agent.xfer(0x14).transact(0x0, undefined, { rxSize: 4 });
        await agent.remove();
      },
    );
  });

  describe('.decode names the command a malformed reply answered', () => {
    /** An agent whose platform answers clock message 0x6 with two bytes. */
    async function shortRateGet(): Promise<{
      agent: Awaited<ReturnType<ReturnType<typeof createHarness>['create']>>;
      tokens: () => number[];
    }> {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x6
          ? { status: 0, returns: new Uint8Array([1, 2]) }
          : undefined;
      const agent = await h.create();
      const tokens = (): number[] =>
        h.platform.requests
          .filter((r) => r.protocolId === 0x14 && r.messageId === 0x6)
          .map((r) => r.token);
      return { agent, tokens };
    }

    it('should give the protocol, the message id and the token in its fields and at the head of its message', async () => {
      const { agent, tokens } = await shortRateGet();
      const ops = agent.xfer(0x14);
      const returns = await ops.transact(0x6, (w) => w.u32(0));
      let error: unknown;
      try {
        ops.decode(returns, (r) => r.u64());
      } catch (e) {
        error = e;
      }
      const token = tokens()[0];
      expect(error).toBeInstanceOf(ScmiMalformedError);
      expect(error).toMatchObject({
        code: 'E_TRUNCATED',
        protocolId: 0x14,
        messageId: 0x6,
        messageName: undefined,
        token,
        message: `clock message 0x6 (token ${String(token)}): payload truncated: u64 needs 8 byte(s) at offset 0, 2 left`,
      });
      // The stack's first line says the same (it was captured with the message unplaced).
      expect((error as Error).stack?.split('\n')[0]).toBe(
        `ScmiMalformedError: ${(error as Error).message}`,
      );
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await agent.remove();
    });

    it('should name only the protocol for a reply that is not the one transact gave last', async () => {
      const { agent } = await shortRateGet();
      const ops = agent.xfer(0x14);
      const first = await ops.transact(0x6, (w) => w.u32(0));
      await ops.transact(0x6, (w) => w.u32(0));
      let error: unknown;
      try {
        ops.decode(first, (r) => r.u64());
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ protocolId: 0x14, messageId: undefined, token: undefined });
      expect((error as Error).message).toMatch(/^clock: payload truncated/);
      await agent.remove();
    });

    it('should name the command of an iterate part even when another reply was read first, with its name when its driver gives one', async () => {
      const names: ProtocolDriver<number> = {
        protocolId: 0x14,
        name: 'named-clock',
        version: 0x10000,
        messageNames: { 0x4: 'DESCRIBE_RATES' },
        init: () => 0,
      };
      const h = createHarness({ drivers: [names] });
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14) return undefined;
        // A part that announces far more than the walk's bound; a rate of two bytes.
        if (req.messageId === 0x4) return { status: 0, returns: le32(1 | (0xffff << 16), 7) };
        if (req.messageId === 0x6) return { status: 0, returns: new Uint8Array([1, 2]) };
        return undefined;
      };
      const agent = await h.create();
      const ops = agent.xfer(0x14);
      // Both replies held, then delivered in one go: the second is read before iterate resumes.
      const held: (() => void)[] = [];
      h.wire.intercept = (d) => held.push(d.deliver);
      const walking = ops
        .iterate(0x4, {
          txSize: 4,
          prepare: (w, index) => w.u32(index),
          counts: (r) => {
            const n = r.u32();
            return { returned: n & 0xffff, remaining: n >>> 16 };
          },
          item: (r) => r.u32(),
          max: 8,
        })
        .catch((e: unknown) => e);
      const other = ops.transact(0x6, (w) => w.u32(0));
      while (held.length < 2) await h.clock.settle();
      h.wire.intercept = undefined;
      for (const deliver of held) deliver();
      const error = await walking;
      await other;
      expect(error).toMatchObject({
        code: 'E_MULTIPART',
        protocolId: 0x14,
        messageId: 0x4,
        token: undefined,
        messageName: 'DESCRIBE_RATES',
        message: 'clock message 0x4 DESCRIBE_RATES: multi-part reply announces more than 8 items',
      });
      await agent.remove();
    });

    it("should leave a caller's own bad value unplaced and uncounted", async () => {
      const { agent } = await shortRateGet();
      const ops = agent.xfer(0x14);
      const returns = await ops.transact(0x6, (w) => w.u32(0));
      const own = new ScmiMalformedError('my own field', 'E_FIELD_RANGE');
      expect(() =>
        ops.decode(returns, () => {
          throw own;
        }),
      ).toThrow(own);
      expect(own).toMatchObject({ message: 'my own field', protocolId: undefined });
      expect(agent.diagnostics.malformedReplies).toEqual({});
      await agent.remove();
    });
  });

  describe('arguments of the wrong type', () => {
    // The last column: what agent.xfer(protocol id) throws afterwards (nothing for a valid one).
    it.each([
      ['protocol id undefined', undefined, 0x0, 'E_FIELD_RANGE'],
      ['message id null', 0x14, null, undefined],
      ['protocol id 0x1234', 0x1234, 0x0, 'E_FIELD_RANGE'],
      ['protocol id NaN', Number.NaN, 0x0, 'E_FIELD_RANGE'],
    ])(
      'should reject agent.transact with %s as E_FIELD_RANGE, sending nothing and keeping no handle',
      async (_what, protocolId, messageId, xferCode) => {
        const h = createHarness();
        const agent = await h.create();
        const sent = h.platform.requests.length;
        const e = await agent
          .transact(protocolId as number, messageId as number)
          .catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiMalformedError);
        expect(e).toMatchObject({ code: 'E_FIELD_RANGE' });
        expect(h.platform.requests).toHaveLength(sent);
        // No handle was kept for a protocol id that cannot be sent: it is refused again (a kept
        // handle would be handed out).
        expect(codeOf(() => agent.xfer(protocolId as number))).toBe(xferCode);
        // Nothing was taken from the pool: the agent still has every transfer.
        await agent.xfer(0x14).transact(0x0, undefined, { rxSize: 4 });
        await agent.remove();
      },
    );

    it('should refuse agent.xfer of a protocol id that cannot be sent at once', async () => {
      const h = createHarness();
      const agent = await h.create();
      expect(() => agent.xfer(0x1234)).toThrow(
        expect.objectContaining({ code: 'E_FIELD_RANGE' }) as Error,
      );
      expect(() => agent.xfer(1.5)).toThrow(ScmiMalformedError);
      await agent.remove();
    });

    it('should reject a payload that is neither bytes nor a writer as E_PAYLOAD, taking no transfer', async () => {
      const h = createHarness();
      const agent = await h.create();
      const sent = h.platform.requests.length;
      for (const payload of [[1, 2, 3, 4], 'abcd', null, 7]) {
        await expect(
          agent.transact(0x10, 0x0, payload as never, { rxSize: 4 }),
        ).rejects.toMatchObject({ code: 'E_PAYLOAD' });
      }
      expect(h.platform.requests).toHaveLength(sent);
      expect(agent.diagnostics.pool.inUse).toBe(0);
      await agent.remove();
    });
  });

  describe('.extendedName', () => {
    it('should send the id (and flags) and read the 64-byte name', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x8) return undefined;
        const name = new Uint8Array(64);
        name.set(Buffer.from(`a-very-long-clock-name-for-clock-${readU32(req.payload, 0)}`));
        return { status: 0, returns: new Uint8Array([...le32(0), ...name]) };
      };
      const agent = await h.create();
      expect(await agent.xfer(0x14).extendedName(0x8, 3)).toBe(
        'a-very-long-clock-name-for-clock-3',
      );
      await agent.xfer(0x14).extendedName(0x8, 4, 1);
      expect(h.platform.requests.at(-1)?.payload).toEqual(le32(4, 1));
      await agent.remove();
    });

    it('should keep 63 characters of a name with no NUL, and reject a reply without the name', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x8) return undefined;
        if (readU32(req.payload, 0) === 1) return { status: 0, returns: le32(0) };
        return { status: 0, returns: new Uint8Array([...le32(0), ...Buffer.from('x'.repeat(64))]) };
      };
      const agent = await h.create();
      expect(await agent.xfer(0x14).extendedName(0x8, 0)).toBe('x'.repeat(63));
      await expect(agent.xfer(0x14).extendedName(0x8, 1)).rejects.toMatchObject({
        code: 'E_TRUNCATED',
      });
      await agent.remove();
    });
    it('should refuse, sending nothing and taking no transfer, an id or flags that is not an integer from 0 to 0xFFFFFFFF (the writer would send it modulo 2^32)', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x8) return undefined;
        const name = new Uint8Array(64);
        name.set(Buffer.from(`clock-${readU32(req.payload, 0).toString(16)}`));
        return { status: 0, returns: new Uint8Array([...le32(0), ...name]) };
      };
      const agent = await h.create();
      const ops = agent.xfer(0x14);
      const sent = h.platform.requests.length;
      for (const bad of [-1, 2 ** 32 + 5, 1.5, Number.NaN, Infinity]) {
        const e = await ops.extendedName(0x8, bad).catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiMalformedError);
        expect(e).toMatchObject({
          code: 'E_FIELD_RANGE',
          message: `extended name: resource id ${String(bad)} is not an integer from 0 to 0xFFFFFFFF`,
        });
        await expect(ops.extendedName(0x8, 3, bad)).rejects.toMatchObject({
          code: 'E_FIELD_RANGE',
          message: `extended name: flags ${String(bad)} is not an integer from 0 to 0xFFFFFFFF`,
        });
      }
      expect(h.platform.requests).toHaveLength(sent);
      expect(agent.diagnostics.pool.inUse).toBe(0);
      expect(agent.diagnostics.malformedReplies).toEqual({});
      // The bounds of the field are sent as given.
      await expect(ops.extendedName(0x8, 0xffffffff, 0xffffffff)).resolves.toBe('clock-ffffffff');
      expect(h.platform.requests.at(-1)?.payload).toEqual(le32(0xffffffff, 0xffffffff));
      await expect(ops.extendedName(0x8, 0, 0)).resolves.toBe('clock-0');
      expect(h.platform.requests.at(-1)?.payload).toEqual(le32(0, 0));
      await agent.remove();
    });
  });

  describe('.messageSupported', () => {
    it('should be false for NOT_FOUND and NOT_SUPPORTED and rethrow other errors', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x2) return undefined;
        const id = readU32(req.payload, 0);
        if (id === 1) return { status: 0, returns: le32(0) };
        if (id === 2) return { status: ScmiStatus.NOT_FOUND };
        if (id === 3) return { status: ScmiStatus.NOT_SUPPORTED };
        return { status: ScmiStatus.HARDWARE_ERROR };
      };
      const agent = await h.create();
      const ops = agent.xfer(0x14);
      expect(await ops.messageSupported(1)).toBe(true);
      expect(await ops.messageSupported(2)).toBe(false);
      expect(await ops.messageSupported(3)).toBe(false);
      await expect(ops.messageSupported(4)).rejects.toMatchObject({
        status: ScmiStatus.HARDWARE_ERROR,
      });
      await agent.remove();
    });
  });

  describe('protocol version negotiation', () => {
    const driver: ProtocolDriver<{ version: number; source: string }> = {
      protocolId: 0x14,
      name: 'clock',
      version: 0x20000,
      init: (ph) => ({ version: ph.version, source: ph.versionSource }),
    };

    it('should ask for the driver version when the platform is newer and supports NEGOTIATE_PROTOCOL_VERSION', async () => {
      const h = createHarness({ drivers: [driver] });
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14) return undefined;
        if (req.messageId === 0x0) return { status: 0, returns: le32(0x30000) };
        if (req.messageId === 0x2)
          return readU32(req.payload, 0) === 0x10
            ? { status: 0, returns: le32(0) }
            : { status: ScmiStatus.NOT_FOUND };
        if (req.messageId === 0x10) return { status: 0 };
        return undefined;
      };
      const agent = await h.create();
      expect(agent.protocol(driver)).toEqual({ version: 0x20000, source: 'negotiated' });
      expect(
        readU32(
          h.platform.requests.find((r) => r.protocolId === 0x14 && r.messageId === 0x10)?.payload ??
            le32(0),
          0,
        ),
      ).toBe(0x20000);
      await agent.remove();
    });

    it("should use the driver's version, best-effort, when negotiation is not supported or refused (Linux scmi_protocol_version_initialize)", async () => {
      for (const refuse of [false, true]) {
        const h = createHarness({ drivers: [driver] });
        const warnings = captureWarnings(h);
        h.platform.override = (req) => {
          if (req.protocolId !== 0x14) return undefined;
          if (req.messageId === 0x0) return { status: 0, returns: le32(0x30000) };
          if (req.messageId === 0x2)
            return refuse ? { status: 0, returns: le32(0) } : { status: ScmiStatus.NOT_FOUND };
          if (req.messageId === 0x10) return { status: ScmiStatus.NOT_SUPPORTED };
          return undefined;
        };
        const agent = await h.create();
        expect(agent.protocol(driver)).toEqual({ version: 0x20000, source: 'best-effort' });
        expect(warnings).toEqual([
          expect.stringMatching(
            /unsupported higher version 0x30000 not negotiated down \(.+\); trying 0x20000/,
          ),
        ]);
        await agent.remove();
      }
    });

    it.each([ScmiStatus.DENIED, ScmiStatus.GENERIC_ERROR])(
      "should use the driver's version when the check for NEGOTIATE_PROTOCOL_VERSION fails with status %d (Linux warns and goes on)",
      async (status) => {
        const h = createHarness({ drivers: [driver] });
        h.platform.override = (req) => {
          if (req.protocolId !== 0x14) return undefined;
          if (req.messageId === 0x0) return { status: 0, returns: le32(0x30000) };
          if (req.messageId === 0x2) return { status };
          return undefined;
        };
        const agent = await h.create();
        expect(agent.protocol(driver)).toEqual({ version: 0x20000, source: 'best-effort' });
        await agent.remove();
      },
    );

    it('should probe when Base is newer than its driver and the check for NEGOTIATE_PROTOCOL_VERSION is denied', async () => {
      const h = createHarness();
      h.platform.baseVersion = 0x30000;
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x2
          ? { status: ScmiStatus.DENIED }
          : undefined;
      const agent = await h.create();
      expect(agent.info.version).toBe(0x20001); // Base's driver's: the version in use
      expect(agent.info.versionSource).toBe('best-effort');
      expect(agent.base.versionSource).toBe('best-effort');
      await agent.remove();
    });

    it("should say the version is the platform's when it is no newer than the driver's", async () => {
      const h = createHarness({ drivers: [driver] });
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x0
          ? { status: 0, returns: le32(0x10000) }
          : undefined;
      const agent = await h.create();
      expect(agent.protocol(driver)).toEqual({ version: 0x10000, source: 'platform' });
      expect(agent.info.versionSource).toBe('platform');
      await agent.remove();
    });

    it.each([
      ['an error status', { status: ScmiStatus.DENIED }],
      ['a reply too short to hold a version', { status: 0, returns: new Uint8Array(0) }],
    ] as const)(
      "should use the driver's version, best-effort, when PROTOCOL_VERSION gets %s (Linux goes on too)",
      async (_what, answer) => {
        const h = createHarness({ drivers: [driver] });
        const warnings = captureWarnings(h);
        h.platform.override = (req) =>
          req.protocolId === 0x14 && req.messageId === 0x0 ? answer : undefined;
        const agent = await h.create();
        expect(agent.protocol(driver)).toEqual({ version: 0x20000, source: 'best-effort' });
        expect(agent.protocolErrors.size).toBe(0);
        expect(warnings).toEqual([
          expect.stringContaining('failed to query the protocol version; trying 0x20000'),
        ]);
        await agent.remove();
      },
    );

    it.each([
      ['PROTOCOL_VERSION', 0x0],
      ['the check for NEGOTIATE_PROTOCOL_VERSION', 0x2],
      ['NEGOTIATE_PROTOCOL_VERSION', 0x10],
    ])(
      'should skip the protocol, unlike Linux, when %s times out (the message still holds the channel)',
      async (_what, dropped) => {
        const h = createHarness({ drivers: [driver] });
        h.platform.override = (req) => {
          if (req.protocolId !== 0x14) return undefined;
          if (req.messageId === dropped) return 'drop';
          if (req.messageId === 0x0) return { status: 0, returns: le32(0x30000) };
          if (req.messageId === 0x2) return { status: 0, returns: le32(0) };
          if (req.messageId === 0x10) return { status: 0 };
          return undefined;
        };
        const agent = await h.create();
        expect(() => agent.protocol(driver)).toThrow();
        expect(agent.protocolErrors.get(0x14)).toMatchObject({ code: 'E_TIMEOUT' });
        await agent.remove();
      },
    );
  });
});
