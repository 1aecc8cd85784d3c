import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { runInNewContext } from 'node:vm';
import { transformSync } from '@swc/core';
import * as core from '@scmi-ts/core';
import {
  PayloadWriter,
  ScmiConfigError,
  ScmiProtocolId,
  ScmiStatus,
  VirtualClock,
} from '@scmi-ts/core';
import * as platformPackage from '@scmi-ts/platform';
import {
  BaseMessageId,
  ScmiPlatform,
  createDefaultPlatformConfig,
  type PlatformVendorCommand,
  type PlatformVendorProtocol,
  type PlatformVendorReply,
  type PlatformVendorRequest,
  type ScmiPlatformOptions,
} from '@scmi-ts/platform';
import { Harness, decodeAnswer, defined } from './support/harness';

const BASE = ScmiProtocolId.BASE;
const MISC = 0x84;
const NEGOTIATE = 0x10;
const OWN_VERSION = 0x10001;

/** Little-endian words as return values. */
function returnsOf(...values: number[]): Uint8Array {
  const w = new PayloadWriter(values.length * 4);
  for (const v of values) w.u32(v);
  return w.bytesWritten();
}

/** What a handler saw of its request, copied out (a request is valid during its call only). */
interface Seen {
  readonly agentId: number;
  readonly agentName: string;
  readonly messageId: number;
  readonly version: number;
  readonly payloadSize: number;
  readonly maxReturns: number;
}

function seen(req: PlatformVendorRequest): Seen {
  return {
    agentId: req.agentId,
    agentName: req.agentName,
    messageId: req.messageId,
    version: req.version,
    payloadSize: req.payload.remaining,
    maxReturns: req.maxReturns,
  };
}

/**
 * A vendor protocol modelled on NXP's i.MX95 MISC protocol: controls set and read back, an echo
 * of up to two words, and a command that answers what it was told of its request.
 */
function createMisc(
  overrides: Partial<PlatformVendorProtocol> = {},
  log: Seen[] = [],
): PlatformVendorProtocol {
  const controls = new Map<number, number>();
  return {
    protocolId: MISC,
    name: 'imx-misc',
    version: OWN_VERSION,
    commands: {
      0x3: {
        name: 'MISC_CONTROL_SET',
        requestSize: 8,
        handle: (req) => {
          log.push(seen(req));
          controls.set(req.payload.u32(), req.payload.u32());
          return { status: ScmiStatus.SUCCESS };
        },
      },
      0x4: {
        name: 'MISC_CONTROL_GET',
        requestSize: 4,
        attributes: 0x1,
        handle: (req) => {
          log.push(seen(req));
          const value = controls.get(req.payload.u32());
          if (value === undefined) return { status: ScmiStatus.NOT_FOUND };
          return { status: ScmiStatus.SUCCESS, returns: returnsOf(value) };
        },
      },
      0x5: {
        name: 'ECHO',
        requestSize: [0, 4, 8],
        handle: (req) => {
          log.push(seen(req));
          return { status: ScmiStatus.SUCCESS, returns: req.payload.bytes(req.payload.remaining) };
        },
      },
      0x6: {
        requestSize: 0,
        handle: (req) => {
          log.push(seen(req));
          return {
            status: ScmiStatus.SUCCESS,
            returns: returnsOf(req.agentId, req.version, req.messageId, req.maxReturns),
          };
        },
      },
    },
    ...overrides,
  };
}

/** A platform with the default configuration and `vendorProtocols`, agents 1 and 2 connected. */
function harness(
  vendorProtocols: readonly PlatformVendorProtocol[] = [createMisc()],
  options: Omit<ScmiPlatformOptions, 'clock' | 'vendorProtocols'> = {},
): Harness {
  const h = new Harness(createDefaultPlatformConfig(), { ...options, vendorProtocols });
  h.connect(1);
  h.connect(2);
  return h;
}

/** Every protocol id of an agent's BASE_DISCOVER_LIST_PROTOCOLS. */
function listProtocols(h: Harness, agentId: number): number[] {
  const ids: number[] = [];
  for (;;) {
    const a = h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [ids.length], agentId);
    expect(a.status).toBe(ScmiStatus.SUCCESS);
    const n = a.r.u32();
    if (n === 0) return ids;
    for (let i = 0; i < n; i++) ids.push(a.r.u8());
  }
}

/** The error `fn` throws (fails the test when it throws none). */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('nothing was thrown');
}

/** A command whose handler answers `reply` (computed for each request). */
function answering(
  reply: (req: PlatformVendorRequest) => unknown,
  requestSize: number | number[] = 0,
): PlatformVendorCommand {
  return { requestSize, handle: reply as (req: PlatformVendorRequest) => PlatformVendorReply };
}

describe('ScmiPlatform vendor protocols (options.vendorProtocols)', () => {
  describe('common messages', () => {
    let h: Harness;
    beforeEach(() => {
      h = harness();
    });
    afterEach(() => {
      h.close();
    });

    it('should answer PROTOCOL_VERSION with the protocol version', () => {
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
    });

    it('should answer PROTOCOL_ATTRIBUTES with SUCCESS and one word 0 by default', () => {
      const a = h.call(MISC, 0x1);
      expect(a.status).toBe(ScmiStatus.SUCCESS);
      expect(a.words).toEqual([0]);
    });

    it('should answer PROTOCOL_MESSAGE_ATTRIBUTES with each command attributes, NOT_FOUND for the others', () => {
      for (const id of [0x0, 0x1, 0x2, NEGOTIATE, 0x3, 0x5, 0x6]) {
        expect(h.call(MISC, 0x2, [id]).words).toEqual([0]);
      }
      expect(h.call(MISC, 0x2, [0x4]).words).toEqual([0x1]);
      for (const id of [0x7, 0x11, 0xff, 0x1234]) {
        expect(h.call(MISC, 0x2, [id]).status).toBe(ScmiStatus.NOT_FOUND);
      }
    });

    it('should answer PROTOCOL_ERROR to a common message with a wrong payload size', () => {
      expect(h.call(MISC, 0x0, [1]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(MISC, 0x1, [1]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(MISC, 0x2, []).status).toBe(ScmiStatus.PROTOCOL_ERROR);
    });
  });

  describe('having an attributes function', () => {
    it('should answer PROTOCOL_ATTRIBUTES with its reply, for the agent that asks', () => {
      const log: Seen[] = [];
      const h = harness([
        createMisc({
          attributes: (req) => {
            log.push(seen(req));
            return { status: ScmiStatus.SUCCESS, returns: returnsOf(0x20 + req.agentId) };
          },
        }),
      ]);
      expect(h.call(MISC, 0x1, [], 2).words).toEqual([0x22]);
      expect(log).toEqual([
        {
          agentId: 2,
          agentName: 'PSCI',
          messageId: 0x1,
          version: OWN_VERSION,
          payloadSize: 0,
          maxReturns: 124,
        },
      ]);
      h.close();
    });

    it('should call it, and the command handlers, with their object as this', () => {
      class Command implements PlatformVendorCommand {
        public readonly requestSize = 0;
        readonly #word: number;
        public constructor(word: number) {
          this.#word = word;
        }
        public handle(): PlatformVendorReply {
          return { status: ScmiStatus.SUCCESS, returns: returnsOf(this.#word) };
        }
      }
      class Misc implements PlatformVendorProtocol {
        public readonly protocolId = MISC;
        public readonly name = 'imx-misc';
        public readonly version = OWN_VERSION;
        public readonly commands = { 0x3: new Command(9) };
        readonly #word = 7;
        public attributes(): PlatformVendorReply {
          return { status: ScmiStatus.SUCCESS, returns: returnsOf(this.#word) };
        }
      }
      const h = harness([new Misc()]);
      expect(h.call(MISC, 0x1).words).toEqual([7]);
      expect(h.call(MISC, 0x3).words).toEqual([9]);
      h.close();
    });
  });

  describe('commands', () => {
    let h: Harness;
    let log: Seen[];
    beforeEach(() => {
      log = [];
      h = harness([createMisc({}, log)]);
    });
    afterEach(() => {
      h.close();
    });

    it('should run the handler and send its status and return values', () => {
      expect(h.call(MISC, 0x3, [7, 42]).status).toBe(ScmiStatus.SUCCESS);
      const a = h.call(MISC, 0x4, [7]);
      expect(a.status).toBe(ScmiStatus.SUCCESS);
      expect(a.words).toEqual([42]);
      expect(h.call(MISC, 0x4, [8]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should tell the handler the agent, the message, the version and the room on the link', () => {
      h.call(MISC, 0x6, [], 2);
      expect(log).toEqual([
        {
          agentId: 2,
          agentName: 'PSCI',
          messageId: 0x6,
          version: OWN_VERSION,
          payloadSize: 0,
          maxReturns: 124,
        },
      ]);
      h.connection(1).disconnect();
      h.connect(1, true, 40);
      expect(h.call(MISC, 0x6, [], 1).words).toEqual([1, OWN_VERSION, 0x6, 36]);
    });

    it('should take each of several request sizes', () => {
      expect(h.call(MISC, 0x5, []).words).toEqual([]);
      expect(h.call(MISC, 0x5, [1]).words).toEqual([1]);
      expect(h.call(MISC, 0x5, [1, 2]).words).toEqual([1, 2]);
    });

    it('should answer PROTOCOL_ERROR to a payload of another size, without running the handler', () => {
      expect(h.call(MISC, 0x3, [7]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(MISC, 0x3, [7, 42, 0]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(MISC, 0x5, new Uint8Array(2)).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(MISC, 0x5, [1, 2, 3]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(log).toEqual([]);
      expect(h.platform.counters.handlerErrors).toBe(0);
    });

    it('should answer NOT_FOUND to a message id it has no command for', () => {
      expect(h.call(MISC, 0x7).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(MISC, 0xff, [1]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should leave state to the handlers: one protocol for every agent', () => {
      h.call(MISC, 0x3, [7, 42], 1);
      expect(h.call(MISC, 0x4, [7], 2).words).toEqual([42]);
    });
  });

  describe('having behaviour.unknownMessage not-supported', () => {
    it('should answer NOT_SUPPORTED to a message id it has no command for', () => {
      const h = harness([createMisc()], { behaviour: { unknownMessage: 'not-supported' } });
      expect(h.call(MISC, 0x7).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.call(MISC, 0x2, [0x7]).status).toBe(ScmiStatus.NOT_FOUND);
      h.close();
    });
  });

  describe('NEGOTIATE_PROTOCOL_VERSION', () => {
    let h: Harness;
    let log: Seen[];
    beforeEach(() => {
      log = [];
      h = harness([createMisc({}, log)]);
    });
    afterEach(() => {
      h.close();
    });

    it('should accept the same major with a minor up to its own, for that agent only', () => {
      expect(h.call(MISC, NEGOTIATE, [0x10000]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(MISC, 0x0).words).toEqual([0x10000]);
      expect(h.call(MISC, 0x6).words[1]).toBe(0x10000);
      expect(h.call(MISC, 0x0, [], 2).words).toEqual([OWN_VERSION]);
      expect(h.call(MISC, NEGOTIATE, [OWN_VERSION]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
    });

    it('should answer NOT_SUPPORTED to another major or a newer minor', () => {
      for (const v of [0x10002, 0x20000, 0x0]) {
        expect(h.call(MISC, NEGOTIATE, [v]).status).toBe(ScmiStatus.NOT_SUPPORTED);
      }
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
    });

    it('should forget the negotiated version when the agent disconnects', () => {
      h.call(MISC, NEGOTIATE, [0x10000]);
      h.connection(1).disconnect();
      h.connect(1);
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
    });
  });

  describe('having behaviour.versionNegotiation false', () => {
    it('should report the version as given and let a command use message id 0x10', () => {
      const misc = createMisc();
      const h = harness(
        [
          {
            ...misc,
            commands: {
              ...misc.commands,
              [NEGOTIATE]: answering(() => ({ status: 0, returns: returnsOf(0x5a) })),
            },
          },
        ],
        { behaviour: { versionNegotiation: false } },
      );
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
      expect(h.call(MISC, NEGOTIATE).words).toEqual([0x5a]);
      h.close();
    });
  });

  describe('visibility', () => {
    it('should be listed and counted by Base for every agent by default', () => {
      const h = harness();
      expect(listProtocols(h, 1)).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, MISC]);
      expect(listProtocols(h, 2)).toEqual([0x11, 0x12, 0x13, MISC]);
      expect(h.call(BASE, 0x1, [], 1).words).toEqual([7 | (2 << 8)]);
      expect(h.call(BASE, 0x1, [], 2).words).toEqual([4 | (2 << 8)]);
      expect(h.call(MISC, 0x6, [], 2).status).toBe(ScmiStatus.SUCCESS);
      h.close();
    });

    it('should list several vendor protocols in ascending order', () => {
      const h = harness([createMisc(), createMisc({ protocolId: 0x81, name: 'imx-bbm' })]);
      expect(listProtocols(h, 2)).toEqual([0x11, 0x12, 0x13, 0x81, MISC]);
      expect(h.call(0x81, 0x0, [], 2).words).toEqual([OWN_VERSION]);
      h.close();
    });

    describe('when an agent is not in its agents', () => {
      let h: Harness;
      let log: Seen[];
      beforeEach(() => {
        log = [];
        h = harness([createMisc({ agents: [1] }, log)]);
      });
      afterEach(() => {
        h.close();
      });

      it('should leave it out of that agent LIST_PROTOCOLS and PROTOCOL_ATTRIBUTES count', () => {
        expect(listProtocols(h, 1)).toContain(MISC);
        expect(listProtocols(h, 2)).toEqual([0x11, 0x12, 0x13]);
        expect(h.call(BASE, 0x1, [], 2).words).toEqual([3 | (2 << 8)]);
      });

      it('should answer every message NOT_SUPPORTED, as for a hidden built-in protocol', () => {
        for (const [messageId, payload] of [
          [0x0, []],
          [0x1, []],
          [0x2, [0x3]],
          [NEGOTIATE, [0x10000]],
          [0x6, []],
          [0x3, [1, 2]],
        ] as const) {
          expect(h.call(MISC, messageId, [...payload], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
        }
        // What a hidden built-in protocol gets: PSCI may not use Clock.
        expect(h.call(ScmiProtocolId.CLOCK, 0x0, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(log).toEqual([]);
        expect(h.call(MISC, 0x6, [], 1).status).toBe(ScmiStatus.SUCCESS);
      });
    });

    it('should answer DENIED to an agent not in its agents with behaviour.hiddenProtocol denied', () => {
      const h = harness([createMisc({ agents: [1] })], { behaviour: { hiddenProtocol: 'denied' } });
      expect(h.call(MISC, 0x0, [], 2).status).toBe(ScmiStatus.DENIED);
      expect(h.call(MISC, 0x6, [], 2).status).toBe(ScmiStatus.DENIED);
      expect(h.call(ScmiProtocolId.CLOCK, 0x0, [], 2).status).toBe(ScmiStatus.DENIED);
      h.close();
    });

    it('should hide it from every agent with an empty agents list', () => {
      const h = harness([createMisc({ agents: [] })]);
      expect(listProtocols(h, 1)).not.toContain(MISC);
      expect(h.call(MISC, 0x0, [], 1).status).toBe(ScmiStatus.NOT_SUPPORTED);
      h.close();
    });
  });

  describe('Base permission commands', () => {
    let h: Harness;
    beforeEach(() => {
      h = harness([createMisc({ agents: [1] })]);
    });
    afterEach(() => {
      h.close();
    });

    it('should answer BASE_SET_PROTOCOL_PERMISSIONS NOT_FOUND, as for System power, and change nothing', () => {
      // PSCI (2) is trusted: agent 1, device 0 (cpu), the protocol, deny.
      const deny = [1, 0, MISC, 0];
      expect(h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, deny, 2).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, ScmiProtocolId.SYSTEM, 0], 2)
          .status,
      ).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [2, 0, MISC, 1], 2).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(MISC, 0x6, [], 1).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(MISC, 0x6, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(listProtocols(h, 1)).toContain(MISC);
    });

    it('should check the caller, the agent, the flags and the device first, as for a built-in', () => {
      const set = (payload: number[], agentId: number): number =>
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, payload, agentId).status;
      expect(set([1, 0, MISC, 0], 1)).toBe(ScmiStatus.DENIED); // OSPM is not trusted
      expect(set([9, 0, MISC, 0], 2)).toBe(ScmiStatus.NOT_FOUND); // no agent 9
      expect(set([1, 0, MISC, 2], 2)).toBe(ScmiStatus.INVALID_PARAMETERS); // reserved flag bit
      expect(set([1, 9, MISC, 0], 2)).toBe(ScmiStatus.NOT_FOUND); // no device 9
    });

    it('should keep it for the agent through BASE_SET_DEVICE_PERMISSIONS and RESET_AGENT_CONFIGURATION', () => {
      for (const device of [0, 1, 2]) {
        expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, device, 0], 2).status).toBe(
          ScmiStatus.SUCCESS,
        );
      }
      expect(h.call(MISC, 0x6, [], 1).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 1], 2).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(h.call(MISC, 0x6, [], 1).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(MISC, 0x6, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
    });
  });

  describe('when a handler has a bug', () => {
    function bugged(reply: (req: PlatformVendorRequest) => unknown, requestSize = 0): Harness {
      const misc = createMisc();
      return harness([
        { ...misc, commands: { ...misc.commands, 0x9: answering(reply, requestSize) } },
      ]);
    }

    it('should answer GENERIC_ERROR to a command whose handler throws, and count it', () => {
      const h = bugged(() => {
        throw new Error('bug');
      });
      expect(() => h.send(1, MISC, 0x9)).not.toThrow();
      expect(h.call(MISC, 0x9).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect(h.platform.counters.handlerErrors).toBe(2);
      expect(h.platform.agentCounters(1).handlerErrors).toBe(2);
      expect(h.platform.agentCounters(1).statuses.GENERIC_ERROR).toBe(2);
      // Why, for the engineer reading the GENERIC_ERROR: both failures, with what the handler threw.
      const log = h.platform.handlerErrorLog;
      expect(log).toHaveLength(2);
      expect(log[1]).toMatchObject({ agentId: 1, protocolId: MISC, messageId: 0x9 });
      expect((log[1]?.error as Error).message).toBe('bug');
      // Nothing else is harmed.
      expect(h.call(MISC, 0x6).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.handlerErrorLog).toHaveLength(2);
      h.close();
    });

    it('should keep the newest 32 failures in handlerErrorLog, oldest first, as a copy', () => {
      const h = bugged((req) => {
        throw new Error(`bug ${req.payload.u32()}`);
      }, 4);
      for (let i = 0; i < 40; i++) h.call(MISC, 0x9, [i]);
      const log = h.platform.handlerErrorLog;
      expect(log.map((f) => (f.error as Error).message)).toEqual(
        Array.from({ length: 32 }, (_, i) => `bug ${i + 8}`),
      );
      expect(h.platform.counters.handlerErrors).toBe(40);
      (log as unknown[]).length = 0;
      expect(h.platform.handlerErrorLog).toHaveLength(32);
      h.close();
    });

    it('should answer GENERIC_ERROR when the attributes function throws, and count it', () => {
      const h = harness([
        createMisc({
          attributes: () => {
            throw new TypeError('bug');
          },
        }),
      ]);
      expect(h.call(MISC, 0x1, [], 2).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect(h.platform.agentCounters(2).handlerErrors).toBe(1);
      h.close();
    });

    it.each([
      ['undefined', (): unknown => undefined],
      ['a number', (): unknown => 0],
      ['null', (): unknown => null],
      ['a status that is not a number', (): unknown => ({ status: '0' })],
      ['no status', (): unknown => ({ returns: new Uint8Array(4) })],
      ['a fractional status', (): unknown => ({ status: 1.5 })],
      ['a NaN status', (): unknown => ({ status: NaN })],
      ['a status above int32', (): unknown => ({ status: 2 ** 31 })],
      ['a status below int32', (): unknown => ({ status: -(2 ** 31) - 1 })],
      ['returns that are an array', (): unknown => ({ status: 0, returns: [1, 2, 3, 4] })],
      [
        'returns that are a DataView',
        (): unknown => ({ status: 0, returns: new DataView(new ArrayBuffer(4)) }),
      ],
      [
        'returns that are a Uint16Array',
        (): unknown => ({ status: 0, returns: new Uint16Array(2) }),
      ],
      ['a resolved Promise', (): unknown => Promise.resolve({ status: 0 })],
      ['a rejected Promise', (): unknown => Promise.reject(new Error('async bug'))],
    ])('should answer GENERIC_ERROR to a handler that returns %s, and count it', (_, reply) => {
      const h = bugged(reply);
      expect(h.call(MISC, 0x9).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect(h.platform.counters.handlerErrors).toBe(1);
      // The log says which contract the reply broke.
      expect(h.platform.handlerErrorLog[0]?.error).toBeInstanceOf(Error);
      expect((h.platform.handlerErrorLog[0]?.error as Error).message).toMatch(
        /^vendor protocol imx-misc \(0x84\) /,
      );
      h.close();
    });

    it('should send a status at either end of the int32 range as it is', () => {
      const h = bugged((req) => ({ status: req.payload.i32() }), 4);
      expect(h.call(MISC, 0x9, [0x7fffffff]).status).toBe(0x7fffffff);
      expect(h.call(MISC, 0x9, [0x80000000]).status).toBe(-0x80000000);
      expect(h.platform.counters.handlerErrors).toBe(0);
      h.close();
    });

    it('should answer GENERIC_ERROR to a SUCCESS with more returns than fit the link, and count it', () => {
      const h = bugged((req) => ({ status: 0, returns: new Uint8Array(req.payload.u32()) }), 4);
      h.connection(1).disconnect();
      h.connect(1, true, 32);
      expect(h.call(MISC, 0x9, [28]).bytes.byteLength).toBe(4 + 4 + 28);
      expect(h.call(MISC, 0x9, [29]).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect(h.platform.counters.handlerErrors).toBe(1);
      // The default link (128 bytes) takes 29.
      expect(h.call(MISC, 0x9, [29], 2).status).toBe(ScmiStatus.SUCCESS);
      h.close();
    });

    it('should send an error status alone, whatever returns it gives', () => {
      const h = bugged(() => ({ status: ScmiStatus.BUSY, returns: new Uint8Array(4096) }));
      const a = h.call(MISC, 0x9);
      expect(a.status).toBe(ScmiStatus.BUSY);
      expect(a.bytes.byteLength).toBe(8);
      expect(h.platform.counters.handlerErrors).toBe(0);
      h.close();
    });

    it('should answer PROTOCOL_ERROR when the handler reads past the payload, as built-ins do', () => {
      const h = bugged((req) => ({ status: 0, returns: returnsOf(req.payload.u32()) }), 0);
      expect(h.call(MISC, 0x9).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.platform.counters.handlerErrors).toBe(0);
      h.close();
    });
  });

  describe('return values', () => {
    it('should send what the handler returned, even when it changes the array later', async () => {
      let kept: Uint8Array = new Uint8Array(0);
      const misc = createMisc();
      const h = harness(
        [
          {
            ...misc,
            commands: {
              ...misc.commands,
              0x9: answering(() => {
                kept = returnsOf(1, 2);
                return { status: 0, returns: kept };
              }),
            },
          },
        ],
        {
          faults: [{ match: { protocolId: MISC, nth: 2 }, action: { kind: 'late-reply', ms: 5 } }],
        },
      );
      const now = decodeAnswer(defined(h.send(1, MISC, 0x9)));
      kept.fill(0xee);
      expect(now.words).toEqual([1, 2]);
      expect(h.send(1, MISC, 0x9)).toBeUndefined(); // the late reply
      kept.fill(0xee);
      await h.clock.advance(5);
      const late = defined(h.link(1).responses[0]);
      expect(decodeAnswer(late.bytes).words).toEqual([1, 2]);
      h.close();
    });
  });

  describe('fault rules', () => {
    it('should match a vendor protocol command like any other', () => {
      const log: Seen[] = [];
      const h = harness([createMisc({}, log)], {
        faults: [
          { id: 'drop-get', match: { protocolId: MISC, messageId: 0x4 }, action: { kind: 'drop' } },
        ],
      });
      expect(h.send(1, MISC, 0x4, [7])).toBeUndefined();
      expect(h.send(1, MISC, 0x3, [7, 1])).toBeDefined();
      expect(log.map((s) => s.messageId)).toEqual([0x4, 0x3]); // processed, its response dropped
      expect(h.platform.faults.log.map((e) => [e.ruleId, e.protocolId, e.messageId])).toEqual([
        ['drop-get', MISC, 0x4],
      ]);
      h.platform.faults.add({
        match: { protocolId: MISC, messageId: 0x0 },
        action: { kind: 'corrupt-bytes', offset: 8, bytes: [0xaa] },
      });
      expect(h.call(MISC, 0x0).words).toEqual([(OWN_VERSION & ~0xff) | 0xaa]);
      h.close();
    });
  });

  describe('options', () => {
    it('should neither keep nor follow later changes of the objects given', () => {
      const get = createMisc().commands[0x4] as PlatformVendorCommand;
      const command = { ...get, requestSize: 4 as number | number[] };
      const protocol = { ...createMisc(), version: OWN_VERSION, commands: { 0x4: command } };
      const agents = [1];
      const h = harness([{ ...protocol, agents }]);
      command.requestSize = 8;
      protocol.version = 0x20000;
      agents.push(2);
      expect(h.call(MISC, 0x4, [7]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(MISC, 0x0).words).toEqual([OWN_VERSION]);
      expect(h.call(MISC, 0x0, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
      h.close();
    });

    it('should leave a platform built from JSON-able options (a worker) without them', () => {
      // Functions do not survive JSON (nor a worker's structured clone): the handler is missing.
      const json = JSON.parse(JSON.stringify([createMisc()])) as PlatformVendorProtocol[];
      const error = errorOf(
        () =>
          new ScmiPlatform(createDefaultPlatformConfig(), {
            clock: new VirtualClock(),
            vendorProtocols: json,
          }),
      );
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe('vendorProtocols[0].commands.3.handle');
      // Without the option, the platform is what it always was.
      const h = new Harness();
      h.connect(1);
      expect(h.call(MISC, 0x0).status).toBe(ScmiStatus.NOT_SUPPORTED);
      h.close();
    });

    const handle = (): PlatformVendorReply => ({ status: 0 });
    const valid = { protocolId: 0x80, name: 'v', version: 0x10000, commands: {} };
    const withCommand = (c: unknown): unknown => ({ ...valid, commands: { 3: c } });

    it.each([
      ['not an array', 'vendorProtocols', {}],
      ['null', 'vendorProtocols', null],
      // eslint-disable-next-line no-sparse-arrays
      ['with a hole', 'vendorProtocols[0]', [, valid]],
      ['an element that is not an object', 'vendorProtocols[0]', [5]],
      ['a misspelt field', 'vendorProtocols[0].protocolID', [{ ...valid, protocolID: 0x80 }]],
      ['no protocolId', 'vendorProtocols[0].protocolId', [{ ...valid, protocolId: undefined }]],
      ['a standard protocolId', 'vendorProtocols[0].protocolId', [{ ...valid, protocolId: 0x14 }]],
      ['protocolId 0x7f', 'vendorProtocols[0].protocolId', [{ ...valid, protocolId: 0x7f }]],
      ['protocolId 0x100', 'vendorProtocols[0].protocolId', [{ ...valid, protocolId: 0x100 }]],
      [
        'a fractional protocolId',
        'vendorProtocols[0].protocolId',
        [{ ...valid, protocolId: 128.5 }],
      ],
      ['a string protocolId', 'vendorProtocols[0].protocolId', [{ ...valid, protocolId: '0x80' }]],
      ['a protocolId twice', 'vendorProtocols[1].protocolId', [valid, { ...valid, name: 'w' }]],
      ['no name', 'vendorProtocols[0].name', [{ ...valid, name: undefined }]],
      ['an empty name', 'vendorProtocols[0].name', [{ ...valid, name: '' }]],
      ['a name that is not a string', 'vendorProtocols[0].name', [{ ...valid, name: 7 }]],
      ['no version', 'vendorProtocols[0].version', [{ ...valid, version: undefined }]],
      ['a negative version', 'vendorProtocols[0].version', [{ ...valid, version: -1 }]],
      ['a version above uint32', 'vendorProtocols[0].version', [{ ...valid, version: 2 ** 32 }]],
      ['a fractional version', 'vendorProtocols[0].version', [{ ...valid, version: 1.5 }]],
      ['agents that are not an array', 'vendorProtocols[0].agents', [{ ...valid, agents: 'all' }]],
      ['an unconfigured agent', 'vendorProtocols[0].agents[1]', [{ ...valid, agents: [1, 3] }]],
      ['agent 0 (the platform)', 'vendorProtocols[0].agents[0]', [{ ...valid, agents: [0] }]],
      ['an agent twice', 'vendorProtocols[0].agents[1]', [{ ...valid, agents: [1, 1] }]],
      [
        'attributes that are not a function',
        'vendorProtocols[0].attributes',
        [{ ...valid, attributes: 0 }],
      ],
      ['no commands', 'vendorProtocols[0].commands', [{ ...valid, commands: undefined }]],
      ['commands that are an array', 'vendorProtocols[0].commands', [{ ...valid, commands: [] }]],
      ['commands that are null', 'vendorProtocols[0].commands', [{ ...valid, commands: null }]],
      [
        'message id 0x0',
        'vendorProtocols[0].commands.0',
        [{ ...valid, commands: { 0: { requestSize: 0, handle } } }],
      ],
      [
        'message id 0x2',
        'vendorProtocols[0].commands.2',
        [{ ...valid, commands: { 2: { requestSize: 0, handle } } }],
      ],
      [
        'message id 0x100',
        'vendorProtocols[0].commands.256',
        [{ ...valid, commands: { 0x100: { requestSize: 0, handle } } }],
      ],
      [
        'a hexadecimal string key',
        'vendorProtocols[0].commands.0x3',
        [{ ...valid, commands: { '0x3': { requestSize: 0, handle } } }],
      ],
      [
        'a negative key',
        'vendorProtocols[0].commands.-3',
        [{ ...valid, commands: { '-3': { requestSize: 0, handle } } }],
      ],
      [
        'message id 0x10 (NEGOTIATE_PROTOCOL_VERSION)',
        'vendorProtocols[0].commands.16',
        [{ ...valid, commands: { 0x10: { requestSize: 4, handle } } }],
      ],
      ['a command that is not an object', 'vendorProtocols[0].commands.3', [withCommand(5)]],
      [
        'a misspelt command field',
        'vendorProtocols[0].commands.3.requestsize',
        [withCommand({ requestsize: 0, handle })],
      ],
      [
        'an empty command name',
        'vendorProtocols[0].commands.3.name',
        [withCommand({ name: '', requestSize: 0, handle })],
      ],
      ['no requestSize', 'vendorProtocols[0].commands.3.requestSize', [withCommand({ handle })]],
      [
        'a negative requestSize',
        'vendorProtocols[0].commands.3.requestSize',
        [withCommand({ requestSize: -4, handle })],
      ],
      [
        'a fractional requestSize',
        'vendorProtocols[0].commands.3.requestSize',
        [withCommand({ requestSize: 4.5, handle })],
      ],
      [
        'a string requestSize',
        'vendorProtocols[0].commands.3.requestSize',
        [withCommand({ requestSize: '4', handle })],
      ],
      [
        'an empty requestSize list',
        'vendorProtocols[0].commands.3.requestSize',
        [withCommand({ requestSize: [], handle })],
      ],
      [
        'a bad size in the list',
        'vendorProtocols[0].commands.3.requestSize[1]',
        [withCommand({ requestSize: [4, -1], handle })],
      ],
      [
        'negative attributes',
        'vendorProtocols[0].commands.3.attributes',
        [withCommand({ requestSize: 0, attributes: -1, handle })],
      ],
      [
        'attributes above uint32',
        'vendorProtocols[0].commands.3.attributes',
        [withCommand({ requestSize: 0, attributes: 2 ** 32, handle })],
      ],
      ['no handle', 'vendorProtocols[0].commands.3.handle', [withCommand({ requestSize: 0 })]],
      [
        'a handle that is not a function',
        'vendorProtocols[0].commands.3.handle',
        [withCommand({ requestSize: 0, handle: 'h' })],
      ],
    ])('should refuse vendorProtocols with %s, naming %s', (_, field, vendorProtocols) => {
      const clock = new VirtualClock();
      const error = errorOf(
        () =>
          new ScmiPlatform(createDefaultPlatformConfig(), {
            clock,
            vendorProtocols: vendorProtocols as never,
          }),
      );
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe(field);
      expect((error as Error).message).toContain(`${field}: `);
      expect(clock.armedTimers + clock.pendingTasks).toBe(0);
    });

    it('should say why a protocolId or message id is refused', () => {
      const message = (vendorProtocols: unknown): string =>
        (
          errorOf(
            () =>
              new ScmiPlatform(createDefaultPlatformConfig(), {
                clock: new VirtualClock(),
                vendorProtocols: vendorProtocols as never,
              }),
          ) as Error
        ).message;
      expect(message([{ ...valid, protocolId: 0x14 }])).toMatch(
        /0x80 … 0xFF, got 0x14 \(the standard clock protocol\)/,
      );
      expect(message([valid, { ...valid, name: 'w' }])).toMatch(
        /0x80 is already vendorProtocols\[0\] \(v\)/,
      );
      expect(message([{ ...valid, commands: { 1: { requestSize: 0, handle } } }])).toMatch(
        /message id 0x1 is PROTOCOL_ATTRIBUTES, answered by the platform/,
      );
      expect(message([{ ...valid, commands: { 0x10: { requestSize: 0, handle } } }])).toMatch(
        /0x10 is NEGOTIATE_PROTOCOL_VERSION/,
      );
    });

    it('should accept every vendor protocol id, no command, and an agents list', () => {
      const h = harness([
        { ...valid, protocolId: 0x80, agents: [2] },
        { ...valid, protocolId: 0xff, version: 0xffffffff },
      ]);
      expect(h.call(0x80, 0x0, [], 2).words).toEqual([0x10000]);
      expect(h.call(0xff, 0x0).words).toEqual([0xffffffff]);
      expect(h.call(0xff, 0x3).status).toBe(ScmiStatus.NOT_FOUND);
      h.close();
    });
  });
});

/** The TypeScript example of the README's "Vendor protocols" section. */
function readmeExample(): string {
  const md = readFileSync(join(__dirname, '../README.md'), 'utf8');
  const start = md.indexOf('\n## Vendor protocols\n');
  if (start === -1) throw new Error('README.md has no "Vendor protocols" section');
  const end = md.indexOf('\n## ', start + 1);
  const section = md.slice(start, end === -1 ? undefined : end);
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  expect(blocks).toHaveLength(1);
  return blocks[0] as string;
}

/** Runs `source` (its imports served from this test's modules) and returns what it printed. */
function runExample(source: string): string[] {
  const imports = [...source.matchAll(/^import\s[\s\S]*?\sfrom '([^']+)';\n/gm)];
  const body = imports.reduce((text, m) => text.replace(m[0], ''), source);
  const head = imports.map((m) => m[0]).join('');
  const { code } = transformSync(`${head}${body}`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const modules: Record<string, unknown> = {
    '@scmi-ts/core': core,
    '@scmi-ts/platform': platformPackage,
  };
  const printed: string[] = [];
  runInNewContext(code, {
    require: (name: string): unknown => {
      if (!(name in modules)) throw new Error(`the example imports ${name}`);
      return modules[name];
    },
    exports: {},
    module: { exports: {} },
    console: { log: (...args: unknown[]) => void printed.push(format(...args)) },
    // This realm's typed arrays: the platform checks `returns` with `types.isUint8Array`, which
    // any realm passes, but the example's `new Uint8Array` should be this test's.
    Uint8Array,
    Error,
  });
  return printed;
}

describe('packages/platform/README.md: Vendor protocols', () => {
  it('should run and print what its comments say', () => {
    const source = readmeExample();
    const said = [...source.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
    expect(said.length).toBeGreaterThan(0);
    expect(runExample(source)).toEqual(said);
  });
});
