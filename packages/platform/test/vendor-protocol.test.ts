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
  PlatformError,
  ScmiPlatform,
  createDefaultPlatformConfig,
  type PlatformVendorCommand,
  type PlatformVendorProtocol,
  type PlatformVendorReply,
  type PlatformVendorRequest,
  type ScmiPlatformOptions,
} from '@scmi-ts/platform';
import {
  Harness,
  decodeAnswer,
  decodePosted,
  defined,
  whileTimersFail,
  type Answer,
} from './support/harness';

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
  readonly p2a: boolean;
  readonly maxNotificationPayload: number;
}

function seen(req: PlatformVendorRequest): Seen {
  return {
    agentId: req.agentId,
    agentName: req.agentName,
    messageId: req.messageId,
    version: req.version,
    payloadSize: req.payload.remaining,
    maxReturns: req.maxReturns,
    p2a: req.p2a,
    maxNotificationPayload: req.maxNotificationPayload,
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

const BBM = 0x81;
const RTC_NOTIFY = 0x3;
const BUTTON_NOTIFY = 0x4;
const TIME_SET = 0x5;
const TIME_GET = 0x6;
const RTC_EVENT = 0x0;
const BUTTON_EVENT = 0x1;
const RTC_ROLLOVER = 0x2;
/** RTC_EVENT's payload: rtc_id, flags. */
const RTC_EVENT_SIZE = 8;
/** How long an asynchronous TIME_SET takes. */
const LATENCY_MS = 5;

/**
 * A vendor protocol modelled on NXP's i.MX95 BBM (battery-backed module) protocol: one RTC whose
 * time is set synchronously or asynchronously (flags bit 0: a delayed response after
 * {@link LATENCY_MS}), RTC events (alarm, rollover) and a button event, each enabled by a p2a
 * `*_NOTIFY` command. RTC_NOTIFY and TIME_SET call `setNotify` and `respondLater` before their
 * last checks, to show that an error reply applies neither.
 */
function createBbm(
  overrides: Partial<PlatformVendorProtocol> = {},
  log: Seen[] = [],
): PlatformVendorProtocol {
  let seconds = 0;
  return {
    protocolId: BBM,
    name: 'imx-bbm',
    version: 0x10000,
    commands: {
      [RTC_NOTIFY]: {
        name: 'BBM_RTC_NOTIFY',
        requestSize: 8, // rtc_id, flags: bit 0 RTC_EVENT, bit 1 RTC_ROLLOVER
        p2a: true,
        handle: (req) => {
          log.push(seen(req));
          const rtc = req.payload.u32();
          const flags = req.payload.u32();
          req.setNotify(RTC_EVENT, rtc, (flags & 1) !== 0);
          req.setNotify(RTC_ROLLOVER, rtc, (flags & 2) !== 0);
          if (rtc !== 0) return { status: ScmiStatus.NOT_FOUND };
          if ((flags & ~3) !== 0) return { status: ScmiStatus.INVALID_PARAMETERS };
          if (flags !== 0 && req.maxNotificationPayload < RTC_EVENT_SIZE) {
            return { status: ScmiStatus.NOT_SUPPORTED };
          }
          return { status: ScmiStatus.SUCCESS };
        },
      },
      [BUTTON_NOTIFY]: {
        name: 'BBM_BUTTON_NOTIFY',
        requestSize: 4, // flags: bit 0 BUTTON_EVENT
        p2a: true,
        handle: (req) => {
          log.push(seen(req));
          const flags = req.payload.u32();
          if ((flags & ~1) !== 0) return { status: ScmiStatus.INVALID_PARAMETERS };
          req.setNotify(BUTTON_EVENT, 0, flags === 1);
          return { status: ScmiStatus.SUCCESS };
        },
      },
      [TIME_SET]: {
        name: 'BBM_RTC_TIME_SET',
        requestSize: 12, // rtc_id, seconds, flags: bit 0 asynchronous
        handle: (req) => {
          log.push(seen(req));
          const rtc = req.payload.u32();
          const value = req.payload.u32();
          const flags = req.payload.u32();
          if (rtc !== 0) return { status: ScmiStatus.NOT_FOUND };
          const async = (flags & 1) !== 0;
          if (async && !req.p2a) return { status: ScmiStatus.NOT_SUPPORTED };
          if (async) {
            req.respondLater(LATENCY_MS, () => {
              seconds = value;
              return { status: ScmiStatus.SUCCESS, returns: returnsOf(rtc, value) };
            });
          }
          if ((flags & ~1) !== 0) return { status: ScmiStatus.INVALID_PARAMETERS };
          if (!async) seconds = value;
          return { status: ScmiStatus.SUCCESS };
        },
      },
      [TIME_GET]: {
        name: 'BBM_RTC_TIME_GET',
        requestSize: 4, // rtc_id
        handle: (req) => {
          log.push(seen(req));
          if (req.payload.u32() !== 0) return { status: ScmiStatus.NOT_FOUND };
          return { status: ScmiStatus.SUCCESS, returns: returnsOf(seconds) };
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
          p2a: true,
          maxNotificationPayload: 128,
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
          p2a: true,
          maxNotificationPayload: 128,
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
      expect(listProtocols(h, 1)).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, MISC]);
      expect(listProtocols(h, 2)).toEqual([0x11, 0x12, 0x13, MISC]);
      expect(h.call(BASE, 0x1, [], 1).words).toEqual([8 | (2 << 8)]);
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

  describe('notifications (setNotify, postVendorNotification)', () => {
    let h: Harness;
    let log: Seen[];
    beforeEach(() => {
      log = [];
      h = harness([createBbm({}, log)]);
    });
    afterEach(() => {
      h.close();
    });

    it('should post a notification to the agents a p2a NOTIFY command subscribed, and to no other', () => {
      expect(h.call(BBM, BUTTON_NOTIFY, [1], 1).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: BBM, notificationId: BUTTON_EVENT, domainId: 0 },
      ]);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(1);
      expect(h.link(1).messages).toEqual([
        { type: 3, protocolId: BBM, messageId: BUTTON_EVENT, token: 0, words: [1] },
      ]);
      expect(h.link(2).posted).toEqual([]);
      expect(h.platform.agentCounters(1).notificationsPosted).toBe(1);
      // Agent 2 subscribes too: both get the next one.
      h.call(BBM, BUTTON_NOTIFY, [1], 2);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(0))).toBe(2);
      expect(h.link(2).messages.map((m) => m.words)).toEqual([[0]]);
    });

    it('should key a subscription by notification and source', () => {
      expect(h.call(BBM, RTC_NOTIFY, [0, 1]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.postVendorNotification(BBM, RTC_EVENT, 1, returnsOf(0, 1))).toBe(0);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(0);
      expect(h.platform.postVendorNotification(BBM, RTC_EVENT, 0, returnsOf(0, 1))).toBe(1);
      expect(h.link(1).messages.map((m) => [m.messageId, m.words])).toEqual([[RTC_EVENT, [0, 1]]]);
    });

    it('should stop posting once the agent disabled it', () => {
      h.call(BBM, BUTTON_NOTIFY, [1]);
      expect(h.call(BBM, BUTTON_NOTIFY, [0]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(0);
      // Disabling what is not enabled is no error.
      expect(h.call(BBM, BUTTON_NOTIFY, [0]).status).toBe(ScmiStatus.SUCCESS);
    });

    it('should subscribe nothing when the handler answers an error after setNotify', () => {
      // RTC_NOTIFY calls setNotify, then answers NOT_FOUND for an RTC it does not have.
      expect(h.call(BBM, RTC_NOTIFY, [9, 1]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.platform.subscriptions(1)).toEqual([]);
    });

    it('should apply several setNotify calls of one command, in order', () => {
      expect(h.call(BBM, RTC_NOTIFY, [0, 3]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: BBM, notificationId: RTC_EVENT, domainId: 0 },
        { protocolId: BBM, notificationId: RTC_ROLLOVER, domainId: 0 },
      ]);
    });

    it('should forget the subscriptions when the agent disconnects or is reset', () => {
      h.call(BBM, BUTTON_NOTIFY, [1], 1);
      h.call(BBM, BUTTON_NOTIFY, [1], 2);
      h.connection(1).disconnect();
      h.connect(1);
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(1);
      // PSCI (2) is trusted: BASE_RESET_AGENT_CONFIGURATION of itself.
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [2, 0], 2).status).toBe(
        ScmiStatus.SUCCESS,
      );
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(0);
    });

    it('should pass the notification through the P2A fault rules', () => {
      h.platform.faults.add({
        id: 'lose-button',
        match: { stage: 'notification', protocolId: BBM, messageId: BUTTON_EVENT },
        action: { kind: 'drop' },
      });
      h.call(BBM, BUTTON_NOTIFY, [1]);
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(1);
      expect(h.link(1).posted).toEqual([]);
      expect(h.platform.faults.log.map((e) => [e.ruleId, e.stage, e.protocolId])).toEqual([
        ['lose-button', 'notification', BBM],
      ]);
    });

    it('should count a notification the link refuses as dropped', () => {
      h.call(BBM, BUTTON_NOTIFY, [1]);
      h.link(1).accept = () => false;
      expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(1);
      expect(h.platform.agentCounters(1).notificationsDropped).toBe(1);
    });

    it('should copy the payload when it is posted', async () => {
      h.call(BBM, BUTTON_NOTIFY, [1]);
      // A P2A delay keeps the message past the call: a payload not copied would show the change.
      h.platform.faults.add({
        match: { stage: 'notification', protocolId: BBM },
        action: { kind: 'delay', ms: 5 },
      });
      const payload = returnsOf(1);
      h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, payload);
      payload.fill(0xee);
      await h.clock.advance(5);
      expect(h.link(1).messages[0]?.words).toEqual([1]);
    });

    it('should not subscribe an agent whose link dropped it while the NOTIFY ran', () => {
      const h2 = harness([
        createBbm({
          commands: {
            ...createBbm().commands,
            0x9: {
              requestSize: 0,
              p2a: true,
              handle: (req) => {
                // The post makes the link drop the agent (as the peer port drops a slow consumer).
                h2.link(1).accept = () => {
                  h2.connection(1).disconnect();
                  return false;
                };
                h2.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(0));
                req.setNotify(RTC_EVENT, 0, true);
                return { status: ScmiStatus.SUCCESS };
              },
            },
          },
        }),
      ]);
      h2.call(BBM, BUTTON_NOTIFY, [1]); // agent 1 gets the handler's post
      h2.call(BBM, 0x9);
      expect(h2.platform.subscriptions(1)).toEqual([]);
      h2.connect(1);
      expect(h2.platform.postVendorNotification(BBM, RTC_EVENT, 0, new Uint8Array(8))).toBe(0);
      expect(h2.link(1).posted).toEqual([]);
      h2.close();
    });

    it('should not subscribe an agent whose link cannot carry even the SUCCESS status', () => {
      h.connection(1).disconnect();
      h.connect(1, true, 3);
      expect(h.call(BBM, BUTTON_NOTIFY, [1]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.platform.subscriptions(1)).toEqual([]);
    });

    describe('when a link is too small for the notification', () => {
      it('should not post it to that agent, and count it dropped', () => {
        h.call(BBM, BUTTON_NOTIFY, [1], 1);
        h.call(BBM, BUTTON_NOTIFY, [1], 2);
        h.connection(2).disconnect();
        h.connect(2, true, 16);
        expect(h.call(BBM, BUTTON_NOTIFY, [1], 2).status).toBe(ScmiStatus.SUCCESS);
        expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, new Uint8Array(20))).toBe(1);
        expect(h.link(1).posted).toHaveLength(1);
        expect(h.link(2).posted).toEqual([]);
        expect(h.platform.agentCounters(2).notificationsDropped).toBe(1);
      });

      it('should tell the handler, whose NOTIFY can refuse it as built-ins do', () => {
        h.connection(1).disconnect();
        h.connect(1, true, 4);
        // RTC_EVENT has 8 bytes of payload: RTC_NOTIFY answers NOT_SUPPORTED for it.
        expect(h.call(BBM, RTC_NOTIFY, [0, 1]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(log.at(-1)?.maxNotificationPayload).toBe(4);
        expect(h.platform.subscriptions(1)).toEqual([]);
      });
    });

    describe('when the agent link has no P2A channel', () => {
      beforeEach(() => {
        h.connection(1).disconnect();
        h.connect(1, false);
      });

      it('should answer a p2a command NOT_SUPPORTED before its handler runs, and hide it', () => {
        log.length = 0;
        expect(h.call(BBM, BUTTON_NOTIFY, [1]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(log).toEqual([]);
        expect(h.call(BBM, 0x2, [BUTTON_NOTIFY]).status).toBe(ScmiStatus.NOT_FOUND);
        // As for a built-in *_NOTIFY (RESET_NOTIFY).
        expect(h.call(ScmiProtocolId.RESET, 0x2, [0x5]).status).toBe(ScmiStatus.NOT_FOUND);
        // Another agent, with a P2A channel, sees it.
        expect(h.call(BBM, 0x2, [BUTTON_NOTIFY], 2).words).toEqual([0]);
      });

      it('should tell a handler, and answer GENERIC_ERROR to one that enables anyway', () => {
        const h2 = harness([
          createBbm({
            commands: {
              0x9: answering((req) => {
                req.setNotify(BUTTON_EVENT, 0, req.payload.u32() === 1);
                return { status: 0, returns: returnsOf(req.p2a ? 1 : 0) };
              }, 4),
            },
          }),
        ]);
        h2.connection(1).disconnect();
        h2.connect(1, false);
        expect(h2.call(BBM, 0x9, [0]).words).toEqual([0]); // disabling is fine
        expect(h2.call(BBM, 0x9, [1]).status).toBe(ScmiStatus.GENERIC_ERROR);
        expect((h2.platform.handlerErrorLog[0]?.error as Error).message).toMatch(
          /setNotify enables a notification on a link without a P2A channel/,
        );
        expect(h2.platform.subscriptions(1)).toEqual([]);
        expect(h2.call(BBM, 0x9, [1], 2).words).toEqual([1]);
        h2.close();
      });
    });

    it('should not post to an agent that may not use the protocol', () => {
      const h2 = harness([createBbm({ agents: [1] })]);
      expect(h2.call(BBM, BUTTON_NOTIFY, [1], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
      h2.call(BBM, BUTTON_NOTIFY, [1], 1);
      expect(h2.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))).toBe(1);
      expect(h2.link(2).posted).toEqual([]);
      h2.close();
    });

    it.each([
      [
        'a notificationId above 0xFF',
        (req: PlatformVendorRequest) => req.setNotify(0x100, 0, true),
      ],
      ['a negative notificationId', (req: PlatformVendorRequest) => req.setNotify(-1, 0, true)],
      ['a fractional source', (req: PlatformVendorRequest) => req.setNotify(0, 0.5, true)],
      ['a source above uint32', (req: PlatformVendorRequest) => req.setNotify(0, 2 ** 32, true)],
      [
        'an enable that is not a boolean',
        (req: PlatformVendorRequest) => req.setNotify(0, 0, 1 as unknown as boolean),
      ],
    ])('should answer GENERIC_ERROR to setNotify with %s, and subscribe nothing', (_, call) => {
      const h2 = harness([
        createBbm({
          commands: {
            0x9: answering((req) => {
              req.setNotify(BUTTON_EVENT, 0, true);
              call(req);
              return { status: 0 };
            }),
          },
        }),
      ]);
      expect(h2.call(BBM, 0x9).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect(h2.platform.counters.handlerErrors).toBe(1);
      expect((h2.platform.handlerErrorLog[0]?.error as Error).message).toMatch(
        /^vendor protocol imx-bbm \(0x81\) 0x9: setNotify /,
      );
      expect(h2.platform.subscriptions(1)).toEqual([]);
      h2.close();
    });

    it('should answer GENERIC_ERROR to setNotify from attributes, and throw to a caller after handle returned', () => {
      let kept: PlatformVendorRequest | undefined;
      const h2 = harness([
        createBbm({
          attributes: (req) => {
            req.setNotify(BUTTON_EVENT, 0, true);
            return { status: 0 };
          },
          commands: {
            0x9: answering((req) => {
              kept = req;
              return { status: 0 };
            }),
          },
        }),
      ]);
      expect(h2.call(BBM, 0x1).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect((h2.platform.handlerErrorLog[0]?.error as Error).message).toMatch(
        /PROTOCOL_ATTRIBUTES: setNotify is for a command's handle/,
      );
      h2.call(BBM, 0x9);
      const request = defined(kept);
      expect(() => {
        request.setNotify(BUTTON_EVENT, 0, true);
      }).toThrow(/setNotify after handle returned/);
      expect(() => {
        request.respondLater(1, () => ({ status: 0 }));
      }).toThrow(/respondLater after handle returned/);
      expect(h2.platform.subscriptions(1)).toEqual([]);
      expect(h2.platform.pendingOperations).toBe(0);
      h2.close();
    });

    describe('.postVendorNotification', () => {
      it.each([
        ['a built-in protocol', ScmiProtocolId.CLOCK, 0, 0, returnsOf(1), /0x14 is not one/],
        ['a vendor protocol it does not serve', MISC, 0, 0, returnsOf(1), /\(0x81\)/],
        ['a notificationId above 0xFF', BBM, 0x100, 0, returnsOf(1), /notificationId/],
        ['a fractional notificationId', BBM, 0.5, 0, returnsOf(1), /notificationId/],
        ['a negative source', BBM, 0, -1, returnsOf(1), /source/],
        ['a source above uint32', BBM, 0, 2 ** 32, returnsOf(1), /source/],
        ['a payload that is an array', BBM, 0, 0, [1, 0, 0, 0], /payload .* an array/],
        ['a payload that is a DataView', BBM, 0, 0, new DataView(new ArrayBuffer(4)), /payload/],
      ])('should refuse %s with E_ARGUMENT, posting nothing', (_, id, n, source, payload, why) => {
        h.call(BBM, RTC_NOTIFY, [0, 1]);
        h.call(BBM, BUTTON_NOTIFY, [1]);
        const error = errorOf(() =>
          h.platform.postVendorNotification(id, n, source, payload as Uint8Array),
        );
        expect(PlatformError.is(error)).toBe(true);
        expect(error).toMatchObject({
          code: 'E_ARGUMENT',
          message: expect.stringMatching(why) as unknown,
        });
        expect(h.link(1).posted).toEqual([]);
      });

      it('should refuse a closed platform with E_CLOSED', () => {
        h.platform.close();
        expect(
          errorOf(() => h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1))),
        ).toMatchObject({ code: 'E_CLOSED' });
      });

      it('should refuse every protocol on a platform without vendor protocols', () => {
        const h2 = new Harness();
        expect(
          errorOf(() => h2.platform.postVendorNotification(0x80, 0, 0, new Uint8Array(0))),
        ).toMatchObject({
          code: 'E_ARGUMENT',
          message: expect.stringContaining('(none)') as unknown,
        });
        h2.close();
      });

      it('should post an empty payload, and return 0 with nobody subscribed', () => {
        expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, new Uint8Array(0))).toBe(0);
        h.call(BBM, BUTTON_NOTIFY, [1]);
        expect(h.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, new Uint8Array(0))).toBe(1);
        expect(defined(h.link(1).posted[0]).byteLength).toBe(4);
      });

      it('should post from inside a handler, to the other agents too', () => {
        const h2 = harness([
          createBbm({
            commands: {
              ...createBbm().commands,
              0x9: answering(() => {
                h2.platform.postVendorNotification(BBM, BUTTON_EVENT, 0, returnsOf(1));
                return { status: 0 };
              }),
            },
          }),
        ]);
        h2.call(BBM, BUTTON_NOTIFY, [1], 2);
        expect(h2.call(BBM, 0x9, [], 1).status).toBe(ScmiStatus.SUCCESS);
        expect(h2.link(2).messages.map((m) => m.words)).toEqual([[1]]);
        h2.close();
      });
    });
  });

  describe('delayed responses (respondLater)', () => {
    let h: Harness;
    let log: Seen[];
    beforeEach(() => {
      log = [];
      h = harness([createBbm({}, log)]);
    });
    afterEach(() => {
      h.close();
    });

    /** TIME_SET of RTC 0 to `seconds`, asynchronous, with `token`. */
    function setAsync(seconds: number, token = 0x55, agentId = 1): Answer {
      return decodeAnswer(defined(h.send(agentId, BBM, TIME_SET, [0, seconds, 1], token)));
    }

    it('should answer SUCCESS now and post the delayed response after ms, on the platform clock', async () => {
      expect(setAsync(1000).status).toBe(ScmiStatus.SUCCESS);
      expect(h.platform.pendingOperations).toBe(1);
      expect(h.call(BBM, TIME_GET, [0]).words).toEqual([0]); // not yet
      await h.clock.advance(LATENCY_MS - 1);
      expect(h.link(1).posted).toEqual([]);
      await h.clock.advance(1);
      expect(h.link(1).messages).toEqual([
        { type: 2, protocolId: BBM, messageId: TIME_SET, token: 0x55, words: [0, 0, 1000] },
      ]);
      expect(h.call(BBM, TIME_GET, [0]).words).toEqual([1000]);
      expect(h.platform.pendingOperations).toBe(0);
      expect(h.platform.agentCounters(1).delayedResponsesPosted).toBe(1);
    });

    it('should complete several in the order of their times', async () => {
      setAsync(1, 1);
      await h.clock.advance(1);
      setAsync(2, 2);
      await h.clock.advance(LATENCY_MS);
      expect(h.link(1).messages.map((m) => [m.token, m.words[2]])).toEqual([
        [1, 1],
        [2, 2],
      ]);
    });

    it('should let the handler see p2a and refuse an asynchronous command without it', () => {
      h.connection(1).disconnect();
      h.connect(1, false);
      expect(setAsync(5).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(log.at(-1)?.p2a).toBe(false);
      expect(h.platform.pendingOperations).toBe(0);
      // The synchronous form goes on.
      expect(h.call(BBM, TIME_SET, [0, 5, 0]).status).toBe(ScmiStatus.SUCCESS);
      expect(h.call(BBM, TIME_GET, [0]).words).toEqual([5]);
    });

    it('should complete the operation after a disconnect, its delayed response not sent', async () => {
      setAsync(7);
      h.connection(1).disconnect();
      const link = h.connect(1);
      await h.clock.advance(LATENCY_MS);
      expect(h.call(BBM, TIME_GET, [0]).words).toEqual([7]);
      expect(link.posted).toEqual([]);
      expect(h.platform.agentCounters(1).cancelledOnDisconnect).toBe(1);
      expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    });

    it('should cancel the operation when the platform closes', () => {
      setAsync(7);
      h.close();
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
      expect(h.platform.pendingOperations).toBe(0);
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should pass the delayed response through the P2A fault rules', async () => {
      h.platform.faults.add({
        match: { stage: 'delayed-response', protocolId: BBM, messageId: TIME_SET },
        action: { kind: 'delay', ms: 10 },
      });
      setAsync(3);
      await h.clock.advance(LATENCY_MS);
      expect(h.link(1).posted).toEqual([]);
      await h.clock.advance(10);
      expect(h.link(1).messages.map((m) => m.type)).toEqual([2]);
      expect(h.platform.faults.log.map((e) => e.stage)).toEqual(['delayed-response']);
    });

    it('should retry a delayed response the link refuses for now', async () => {
      let refusals = 2;
      h.link(1).accept = () => refusals-- <= 0;
      setAsync(3);
      await h.clock.advance(LATENCY_MS + 2);
      expect(h.link(1).posted).toHaveLength(1);
      expect(h.platform.counters.delayedResponseRetries).toBe(2);
    });

    describe('when a delivery fault withholds the response', () => {
      // As a buggy platform's: the conformance kit's overtaken-response case relies on it. A
      // `delay` holds the command itself, so its delayed response follows its response.
      it.each([
        ['late-reply', { kind: 'late-reply', ms: LATENCY_MS * 4 }, ['p2a', 'response']],
        ['hold', { kind: 'hold', maxHoldMs: LATENCY_MS * 4 }, ['p2a', 'response']],
        ['delay', { kind: 'delay', ms: LATENCY_MS * 4 }, ['response', 'p2a']],
      ] as const)(
        'should let the delayed response come as the fault puts it (%s)',
        async (_kind, action, order) => {
          h.platform.faults.add({ match: { protocolId: BBM, messageId: TIME_SET }, action });
          h.send(1, BBM, TIME_SET, [0, 7, 1]);
          await h.clock.advance(LATENCY_MS * 10);
          expect(h.link(1).order).toEqual(order);
          expect(h.link(1).messages.map((m) => m.type)).toEqual([2]);
          expect(h.call(BBM, TIME_GET, [0]).words).toEqual([7]);
        },
      );
    });

    it('should complete an operation whose agent the link dropped while the handler ran, its delayed response cancelled', async () => {
      let completed = 0;
      const h2: Harness = harness([
        createBbm({
          commands: {
            0x9: answering((req) => {
              h2.connection(1).disconnect();
              req.respondLater(5, () => {
                completed++;
                return { status: 0 };
              });
              return { status: 0 };
            }),
          },
        }),
      ]);
      const cancelled = h2.platform.agentCounters(1).cancelledOnDisconnect;
      h2.send(1, BBM, 0x9);
      expect(h2.platform.pendingOperations).toBe(1);
      await h2.clock.advance(20);
      expect(completed).toBe(1);
      expect(h2.platform.agentCounters(1).cancelledOnDisconnect).toBe(cancelled + 1);
      expect(h2.link(1).posted).toEqual([]);
      h2.close();
    });

    it('should arm nothing when the handler closed the platform', async () => {
      let completed = 0;
      const h2: Harness = harness([
        createBbm({
          commands: {
            0x9: answering((req) => {
              h2.platform.close();
              req.respondLater(1, () => {
                completed++;
                return { status: 0 };
              });
              return { status: 0 };
            }),
          },
        }),
      ]);
      h2.send(1, BBM, 0x9);
      expect(h2.platform.pendingOperations).toBe(0);
      expect(h2.platform.armedTimers).toBe(0);
      await h2.clock.advance(10);
      expect(completed).toBe(0);
      h2.close();
    });

    describe('when the command is answered other than SUCCESS', () => {
      it('should drop the operation: complete never runs, no delayed response', async () => {
        // TIME_SET calls respondLater first, then answers INVALID_PARAMETERS to reserved flags.
        expect(decodeAnswer(defined(h.send(1, BBM, TIME_SET, [0, 9, 3]))).status).toBe(
          ScmiStatus.INVALID_PARAMETERS,
        );
        expect(h.platform.pendingOperations).toBe(0);
        await h.clock.advance(LATENCY_MS);
        expect(h.link(1).posted).toEqual([]);
        expect(h.call(BBM, TIME_GET, [0]).words).toEqual([0]);
      });
    });

    describe('when the platform clock cannot arm the timer', () => {
      it('should answer GENERIC_ERROR, with nothing pending or subscribed', () => {
        const h2 = harness([
          createBbm({
            commands: {
              0x9: answering((req) => {
                req.setNotify(BUTTON_EVENT, 0, true);
                req.respondLater(1, () => ({ status: 0 }));
                return { status: 0 };
              }),
            },
          }),
        ]);
        const answer = whileTimersFail(h2.clock, () => h2.call(BBM, 0x9));
        expect(answer.status).toBe(ScmiStatus.GENERIC_ERROR);
        expect(h2.platform.pendingOperations).toBe(0);
        expect(h2.platform.subscriptions(1)).toEqual([]);
        expect(h2.platform.counters.handlerErrors).toBe(1);
        h2.close();
      });
    });

    describe('when complete has a bug', () => {
      function completing(complete: () => unknown, maxMsgSize = 128): Harness {
        const h2 = new Harness(createDefaultPlatformConfig(), {
          vendorProtocols: [
            createBbm({
              commands: {
                0x9: answering((req) => {
                  req.respondLater(2, complete as () => PlatformVendorReply);
                  return { status: 0 };
                }),
              },
            }),
          ],
        });
        h2.connect(1, true, maxMsgSize);
        return h2;
      }

      it.each([
        [
          'throws',
          (): unknown => {
            throw new RangeError('complete bug');
          },
          /^complete bug$/,
        ],
        ['returns a Promise', (): unknown => Promise.resolve({ status: 0 }), /returned a Promise/],
        ['returns no reply', (): unknown => undefined, /returned undefined, not a reply/],
        ['returns a status that is not an int32', (): unknown => ({ status: 2 ** 31 }), /int32/],
        [
          'returns more than fit the link',
          (): unknown => ({ status: 0, returns: new Uint8Array(125) }),
          /125 bytes of returns, more than the 124/,
        ],
      ])(
        'should answer GENERIC_ERROR in the delayed response when it %s, and log it',
        async (_, complete, why) => {
          const h2 = completing(complete);
          expect(decodeAnswer(defined(h2.send(1, BBM, 0x9, [], 0x77))).status).toBe(
            ScmiStatus.SUCCESS,
          );
          await h2.clock.advance(2);
          const [delayed] = h2.link(1).posted;
          expect(decodePosted(defined(delayed))).toMatchObject({ type: 2, token: 0x77 });
          expect(decodeAnswer(defined(delayed)).status).toBe(ScmiStatus.GENERIC_ERROR);
          expect(h2.platform.agentCounters(1).handlerErrors).toBe(1);
          const [failure] = h2.platform.handlerErrorLog;
          expect(failure).toMatchObject({
            agentId: 1,
            protocolId: BBM,
            messageId: 0x9,
            token: 0x77,
            atMs: 2,
          });
          expect((failure?.error as Error).message).toMatch(why);
          h2.close();
        },
      );

      it('should send the return values that fit, and an error status alone', async () => {
        const replies: PlatformVendorReply[] = [
          { status: 0, returns: new Uint8Array(28) },
          { status: ScmiStatus.BUSY, returns: new Uint8Array(64) },
        ];
        const h2 = completing(() => defined(replies.shift()), 32);
        h2.send(1, BBM, 0x9);
        h2.send(1, BBM, 0x9);
        await h2.clock.advance(2);
        expect(h2.link(1).posted.map((b) => b.byteLength)).toEqual([4 + 4 + 28, 8]);
        expect(h2.platform.counters.handlerErrors).toBe(0);
        h2.close();
      });

      it('should still count the failure when the agent disconnected first', async () => {
        const h2 = completing(() => {
          throw new Error('late bug');
        });
        h2.send(1, BBM, 0x9);
        h2.connection(1).disconnect();
        await h2.clock.advance(2);
        expect(h2.platform.agentCounters(1).handlerErrors).toBe(1);
        expect(h2.platform.agentCounters(1).cancelledOnDisconnect).toBe(1);
        h2.close();
      });
    });

    it.each([
      [
        'a negative ms',
        (req: PlatformVendorRequest) => req.respondLater(-1, () => ({ status: 0 })),
      ],
      ['a NaN ms', (req: PlatformVendorRequest) => req.respondLater(NaN, () => ({ status: 0 }))],
      [
        'an infinite ms',
        (req: PlatformVendorRequest) => req.respondLater(Infinity, () => ({ status: 0 })),
      ],
      [
        'a string ms',
        (req: PlatformVendorRequest) =>
          req.respondLater('5' as unknown as number, () => ({ status: 0 })),
      ],
      [
        'a complete that is not a function',
        (req: PlatformVendorRequest) =>
          req.respondLater(1, { status: 0 } as unknown as () => PlatformVendorReply),
      ],
      [
        'a second call',
        (req: PlatformVendorRequest) => {
          req.respondLater(1, () => ({ status: 0 }));
          req.respondLater(1, () => ({ status: 0 }));
        },
      ],
    ])('should answer GENERIC_ERROR to respondLater with %s, and arm nothing', (_, call) => {
      const h2 = harness([
        createBbm({
          commands: {
            0x9: answering((req) => {
              call(req);
              return { status: 0 };
            }),
          },
        }),
      ]);
      expect(h2.call(BBM, 0x9).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect((h2.platform.handlerErrorLog[0]?.error as Error).message).toMatch(/respondLater/);
      expect(h2.platform.pendingOperations).toBe(0);
      expect(h2.platform.armedTimers).toBe(0);
      h2.close();
    });

    it('should answer GENERIC_ERROR to respondLater without a P2A channel or room for a delayed response', () => {
      const h2 = harness([
        createBbm({
          commands: {
            0x9: answering((req) => {
              req.respondLater(1, () => ({ status: 0 }));
              return { status: 0 };
            }),
          },
        }),
      ]);
      h2.connection(1).disconnect();
      h2.connect(1, false);
      expect(h2.call(BBM, 0x9).status).toBe(ScmiStatus.GENERIC_ERROR);
      expect((h2.platform.handlerErrorLog[0]?.error as Error).message).toMatch(
        /respondLater on a link without a P2A channel/,
      );
      h2.connection(1).disconnect();
      h2.connect(1, true, 3);
      h2.send(1, BBM, 0x9);
      expect((h2.platform.handlerErrorLog[1]?.error as Error).message).toMatch(
        /no room for a delayed response/,
      );
      expect(h2.platform.pendingOperations).toBe(0);
      h2.close();
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
        'commands that are a Map (no own keys: it would serve nothing)',
        'vendorProtocols[0].commands',
        [{ ...valid, commands: new Map([[3, { requestSize: 0, handle: () => ({ status: 0 }) }]]) }],
      ],
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
      [
        'a p2a that is not a boolean',
        'vendorProtocols[0].commands.3.p2a',
        [withCommand({ requestSize: 0, p2a: 1, handle })],
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

/**
 * Runs `source` (its imports served from this test's modules; its body in an async function, so
 * that it may `await` at the top level, as an ES module may) and returns what it printed.
 */
async function runExample(source: string): Promise<string[]> {
  const imports = [...source.matchAll(/^import\s[\s\S]*?\sfrom '([^']+)';\n/gm)];
  const body = imports.reduce((text, m) => text.replace(m[0], ''), source);
  const head = imports.map((m) => m[0]).join('');
  const { code } = transformSync(`${head}exports.done = (async () => {\n${body}\n})();\n`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const modules: Record<string, unknown> = {
    '@scmi-ts/core': core,
    '@scmi-ts/platform': platformPackage,
  };
  const printed: string[] = [];
  const exports: { done?: Promise<void> } = {};
  runInNewContext(code, {
    require: (name: string): unknown => {
      if (!(name in modules)) throw new Error(`the example imports ${name}`);
      return modules[name];
    },
    exports,
    module: { exports },
    console: { log: (...args: unknown[]) => void printed.push(format(...args)) },
    // This realm's typed arrays: the platform checks `returns` with `types.isUint8Array`, which
    // any realm passes, but the example's `new Uint8Array` should be this test's.
    Uint8Array,
    Error,
  });
  await exports.done;
  return printed;
}

describe('packages/platform/README.md: Vendor protocols', () => {
  it('should run and print what its comments say', async () => {
    const source = readmeExample();
    const said = [...source.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
    expect(said.length).toBeGreaterThan(0);
    expect(await runExample(source)).toEqual(said);
  });
});
