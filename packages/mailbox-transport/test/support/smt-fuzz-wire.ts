import {
  ScmiMessageType,
  ScmiStatus,
  headerToken,
  headerType,
  type ChannelCounters,
  type ChannelSetup,
  type NotificationBuffer,
  type Transport,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_PAYLOAD_OFFSET,
  SmtArea,
  type MailboxChannel,
  type MailboxClient,
  type MailboxController,
  type SmtChannelSpec,
  type SmtWireLayout,
  type SmtWireMonitor,
} from '@scmi-ts/mailbox-transport';

/**
 * The instruments of the SMT fuzz (`smt-fuzz.test.ts`): a mailbox controller and a transport that
 * wrap the real ones and check, at every boundary the agent side crosses, what the SMT rules and
 * the transport's documentation promise — from what the agent side can see at that moment (the
 * area's status, length and header), not from its internal state:
 *
 * - **every read** (`fetchResponse`, `fetchNotification`): exactly the bytes the length field
 *   gives (`min(rxMax, length − 8)` of a response, `length − 4` of a notification, clamped to the
 *   area and counted `oversize` once when the field is larger than the area; a response shorter
 *   than its status word is PROTOCOL_ERROR and `invalid`; CHANNEL_ERROR is COMMS_ERROR without a
 *   byte read), copied from the area as it was when read, never more than the area's payload;
 * - **the first look at a reply** (a doorbell or a poll finding CHANNEL_FREE or CHANNEL_ERROR
 *   after a message was written): it completes the transfer or is counted (a bad message, a late
 *   reply), never dropped silently; later looks at the same reply may be silent (each reply is
 *   counted once);
 * - **A2P doorbells while the platform owns the area**: counted `spurious`, except at most one per
 *   message written (the previous reply's doorbell, still owed);
 * - **P2A doorbells**: with nothing posted, counted `spurious` exactly once; a notification
 *   shorter than its header counted `invalid` exactly once; anything else posted has at least one
 *   outcome (delivered, a delayed response, a late reply, a bad message); the area is given back
 *   FREE every time, with an acknowledgement rung (or counted as impossible) when the platform
 *   asked for one;
 * - the rings dropped after the quiesce, for the teardown's accounting.
 *
 * Every rule broken is recorded in {@link FuzzProbe.problems} (the test fails with its seed).
 */

/** What the instruments saw on one SCMI channel (`a2p:0`, `p2a:0`). */
export interface ChannelProbe {
  readonly label: string;
  readonly direction: 'a2p' | 'p2a';
  /** The platform's view of the channel's area (the same bytes as the agent's). */
  readonly area: SmtArea;
  /** Core's live counters of the channel, once it is set up. */
  counters: ChannelCounters | undefined;
  /** The reply in the area was looked at since the last message was written (A2P). */
  examined: boolean;
  /** A2P doorbells that found the area busy and were not counted, since the last write. */
  absorbedSinceWrite: number;
  /** Messages the agent wrote (A2P) or acknowledgements it rang (P2A). */
  agentRings: number;
  /** A2P: the header of the message last written into the area, as it rang for it. */
  lastWritten: number | undefined;
  /** The channel's quiesce started: doorbells go to `rxIgnored` from then on. */
  quiescing: boolean;
  /** Rings the mailbox dropped after the quiesce (`rxIgnored`). */
  dropped: number;
  /** Reads of the area (fetches) checked. */
  fetches: number;
  /** Doorbells checked, by what they found (`busy`, `reply`, `foreign token`, `posted`…). */
  readonly doorbells: Map<string, number>;
}

/** The state shared by the instruments of one fuzz case. */
export interface FuzzProbe {
  /** Broken rules, in words (empty on a correct run). */
  readonly problems: string[];
  readonly a2p: ChannelProbe;
  readonly p2a: ChannelProbe;
  /** The agent's removal started: the P2A outcome rule no longer holds (the hub is closed). */
  removing: boolean;
}

/**
 * Bad messages of every reason, late replies, responses a delayed response overtook, completions
 * and failures: one reply's outcomes.
 */
function outcomes(c: ChannelCounters): number {
  return c.badMessageTotal + c.lateReplies + c.overtakenResponses + c.completed + c.failed;
}

/** Outcomes of a posted P2A message. */
function p2aOutcomes(c: ChannelCounters): number {
  return c.badMessageTotal + c.lateReplies + c.notifications + c.delayedResponses + c.failed;
}

function probeOf(label: string, direction: 'a2p' | 'p2a', area: SmtArea): ChannelProbe {
  return {
    label,
    direction,
    area,
    counters: undefined,
    examined: false,
    absorbedSinceWrite: 0,
    agentRings: 0,
    lastWritten: undefined,
    quiescing: false,
    dropped: 0,
    fetches: 0,
    doorbells: new Map(),
  };
}

/** The probes of the wire's A2P 0 and P2A 0 areas. */
export function createFuzzProbe(layout: SmtWireLayout): FuzzProbe {
  const areaOf = (spec: SmtChannelSpec): SmtArea =>
    new SmtArea(layout.memory, spec.offset, layout.areaSize);
  const a2p = layout.channels.find((c) => c.direction === 'a2p' && c.id === 0);
  const p2a = layout.channels.find((c) => c.direction === 'p2a' && c.id === 0);
  if (a2p === undefined || p2a === undefined) throw new Error('the fuzz wire needs a2p:0, p2a:0');
  return {
    problems: [],
    a2p: probeOf('a2p:0', 'a2p', areaOf(a2p)),
    p2a: probeOf('p2a:0', 'p2a', areaOf(p2a)),
    removing: false,
  };
}

/** The channel probe of mailbox channel `index` (any of its roles), by the layout. */
function probeOfIndex(probe: FuzzProbe, layout: SmtWireLayout, index: number): ChannelProbe {
  const spec = layout.channels.find(
    (c) => c.mailbox === index || c.replyMailbox === index || c.ackMailbox === index,
  );
  if (spec === undefined) throw new Error(`no SMT channel on mailbox channel ${index}`);
  return spec.direction === 'a2p' ? probe.a2p : probe.p2a;
}

/**
 * The agent's side of the mailbox controller, instrumented: each client's doorbells are checked
 * (see the module's comment) and each ring the agent makes is seen as it is made (A2P: a message
 * was just written, so its reply is still to be looked at).
 */
export function instrumentController(
  inner: MailboxController,
  layout: SmtWireLayout,
  probe: FuzzProbe,
  monitor: SmtWireMonitor,
): MailboxController {
  return {
    name: inner.name,
    channelCount: inner.channelCount,
    txDoneMethod: inner.txDoneMethod,
    get stats() {
      return inner.stats;
    },
    requestChannel(index: number, client: MailboxClient): MailboxChannel {
      const p = probeOfIndex(probe, layout, index);
      const watched: MailboxClient = {
        get knowsTxDone() {
          return client.knowsTxDone === true;
        },
        rxCallback: (rings?: number) => {
          doorbell(probe, p, monitor, () => {
            client.rxCallback(rings);
          });
        },
        rxIgnored: () => {
          p.dropped++;
          // Rings dropped after the quiesce may be the doorbell of the reply in the area: looked at.
          if (p.area.isFree()) p.examined = true;
          client.rxIgnored?.();
        },
      };
      const channel = inner.requestChannel(index, watched);
      const send = channel.send.bind(channel);
      channel.send = () => {
        p.agentRings++;
        if (p.direction === 'a2p') {
          // The agent wrote a message and rings for it: its reply is yet to be looked at.
          p.examined = false;
          p.absorbedSinceWrite = 0;
          p.lastWritten = p.area.header();
        }
        send();
      };
      return channel;
    },
  };
}

/** Runs one doorbell delivery and checks what it counted. */
function doorbell(
  probe: FuzzProbe,
  p: ChannelProbe,
  monitor: SmtWireMonitor,
  deliver: () => void,
): void {
  const c = p.counters;
  if (c === undefined || p.quiescing) {
    deliver();
    return;
  }
  const area = p.area;
  const status = area.status();
  const free = (status & SMT_CHANNEL_FREE) !== 0;
  const header = area.header();
  const length = area.length();
  const spurious = c.badMessages.spurious;
  const invalid = c.badMessages.invalid;
  const before = p.direction === 'a2p' ? outcomes(c) : p2aOutcomes(c);
  const report = monitor.channel(p.label);
  const acks = p.agentRings + (report?.acksWithoutMailbox ?? 0) + (report?.ackFailures ?? 0);
  deliver();
  const problem = (what: string): void => {
    probe.problems.push(`${p.label} doorbell (status 0x${status.toString(16)}): ${what}`);
  };
  const seen = (kind: string): void => {
    p.doorbells.set(kind, (p.doorbells.get(kind) ?? 0) + 1);
  };
  if (p.direction === 'a2p') {
    const written = p.lastWritten;
    seen(
      !free
        ? 'busy'
        : p.examined
          ? 'reply looked at'
          : written !== undefined && headerToken(header) !== headerToken(written)
            ? 'foreign token'
            : 'first look',
    );
    if (!free) {
      const counted = c.badMessages.spurious - spurious;
      if (counted === 0) p.absorbedSinceWrite++;
      if (counted > 1) problem(`counted spurious ${counted} times`);
      if (p.absorbedSinceWrite > 1) {
        problem(`${p.absorbedSinceWrite} doorbells on a busy area left uncounted for one message`);
      }
      return;
    }
    // Later looks at the same reply may be silent (each reply is counted once): seen, not checked.
    if (p.examined && outcomes(c) === before) seen('reply looked at, silent');
    if (!p.examined && outcomes(c) === before) {
      problem(
        `the first look at the reply in the area (header 0x${header.toString(16)}) neither completed a transfer nor counted anything`,
      );
    }
    p.examined = true;
    return;
  }
  // P2A.
  const after = monitor.channel(p.label);
  const acked = p.agentRings + (after?.acksWithoutMailbox ?? 0) + (after?.ackFailures ?? 0);
  seen(free ? 'nothing posted' : length < 4 ? 'short' : 'posted');
  if (free) {
    if (c.badMessages.spurious - spurious !== 1)
      problem('nothing posted, not counted spurious once');
    if (acked !== acks) problem('nothing posted, yet acknowledged');
    return;
  }
  if (length < 4 && headerType(header) === ScmiMessageType.NOTIFICATION) {
    if (c.badMessages.invalid - invalid !== 1) {
      problem(`a notification of length ${length} (no header) not counted invalid once`);
    }
  } else if (!probe.removing && p2aOutcomes(c) === before) {
    problem(
      `a posted message (header 0x${header.toString(16)}, length ${length}) had no outcome: not delivered, not counted`,
    );
  }
  if (area.status() !== SMT_CHANNEL_FREE) {
    problem(`the area was not given back FREE (status 0x${area.status().toString(16)})`);
  }
  const asked = (area.flags() & SMT_FLAG_INTR_ENABLED) !== 0;
  if (acked - acks !== (asked ? 1 : 0)) {
    problem(`acknowledgements ${acked - acks} (the platform ${asked ? 'asked' : 'did not ask'})`);
  }
}

/**
 * The mailbox transport, instrumented: each channel it sets up is wrapped so that every read of
 * the area and every poll is checked (see the module's comment).
 */
export function instrumentTransport(
  inner: Transport,
  probe: FuzzProbe,
  monitor: SmtWireMonitor,
): Transport {
  return {
    ...inner,
    async setupChannel(setup: ChannelSetup): Promise<TransportChannel> {
      const channel = await inner.setupChannel(setup);
      const p = setup.direction === 'a2p' ? probe.a2p : probe.p2a;
      p.counters = setup.counters;
      return wrapChannel(channel, p, probe, monitor);
    },
  };
}

function wrapChannel(
  inner: TransportChannel,
  p: ChannelProbe,
  probe: FuzzProbe,
  monitor: SmtWireMonitor,
): TransportChannel {
  const area = p.area;
  const problem = (what: string): void => {
    probe.problems.push(`${p.label}: ${what}`);
  };
  const hostile = (): number => monitor.channel(p.label)?.hostileLengths ?? 0;
  const wrapped: TransportChannel = {
    maxInFlight: inner.maxInFlight,
    send: (xfer: Xfer) => inner.send(xfer),
    fetchResponse(xfer: Xfer, ctx: unknown): void {
      const c = p.counters as ChannelCounters;
      const snapshot = area.bytes.slice();
      const view = new DataView(snapshot.buffer);
      const status = area.status();
      const length = typeof ctx === 'number' ? ctx : area.length();
      const rxMax = xfer.rxMax;
      const oversize = hostile();
      const invalid = c.badMessages.invalid;
      inner.fetchResponse(xfer, ctx);
      p.fetches++;
      const got = { status: xfer.status, rxLen: xfer.rxLen, truncated: xfer.truncated };
      const oversized = hostile() - oversize;
      const invalids = c.badMessages.invalid - invalid;
      const what = `response (status 0x${status.toString(16)}, length ${length}, rxMax ${rxMax}) read as ${JSON.stringify(got)}, oversize +${oversized}, invalid +${invalids}`;
      if (p.direction === 'a2p' && xfer.header !== p.lastWritten) {
        // The area holds one message at a time: a reply there answers the message last written.
        problem(
          `${what}: read as the reply of 0x${xfer.header.toString(16)}, but the message in the area is ${p.lastWritten === undefined ? 'none' : `0x${p.lastWritten.toString(16)}`}`,
        );
      }
      if (got.rxLen > area.maxPayload - 4 || got.rxLen > xfer.rx.byteLength) {
        problem(`${what}: more than the area's payload after the status`);
        return;
      }
      let want: { status: number; rxLen: number; truncated: boolean; oversize: number };
      let invalidWant = 0;
      if ((status & SMT_CHANNEL_ERROR) !== 0) {
        want = { status: ScmiStatus.COMMS_ERROR, rxLen: 0, truncated: false, oversize: 0 };
      } else if (length > area.maxLength) {
        const n = Math.min(area.maxPayload - 4, rxMax);
        const s = view.getInt32(SMT_PAYLOAD_OFFSET, true);
        want = { status: s, rxLen: n, truncated: false, oversize: 1 };
      } else if (length < 8) {
        want = { status: ScmiStatus.PROTOCOL_ERROR, rxLen: 0, truncated: false, oversize: 0 };
        invalidWant = 1;
      } else {
        const s = view.getInt32(SMT_PAYLOAD_OFFSET, true);
        const n = Math.min(length - 8, rxMax);
        want = { status: s, rxLen: n, truncated: length - 8 > rxMax, oversize: 0 };
      }
      if (
        got.status !== want.status ||
        got.rxLen !== want.rxLen ||
        got.truncated !== want.truncated ||
        oversized !== want.oversize ||
        invalids !== invalidWant
      ) {
        problem(`${what}, expected ${JSON.stringify({ ...want, invalid: invalidWant })}`);
        return;
      }
      const from = SMT_PAYLOAD_OFFSET + 4;
      if (!sameBytes(xfer.rx, snapshot, from, got.rxLen)) {
        problem(`${what}: the bytes are not the area's`);
      }
    },
    fetchNotification(buffer: NotificationBuffer, ctx: unknown): void {
      const snapshot = area.bytes.slice();
      const length = typeof ctx === 'number' ? ctx : Number.NaN;
      const oversize = hostile();
      inner.fetchNotification(buffer, ctx);
      p.fetches++;
      const oversized = hostile() - oversize;
      const capacity = buffer.data.byteLength;
      const got = { length: buffer.length, truncated: buffer.truncated, oversize: oversized };
      const what = `notification (length ${length}) read as ${JSON.stringify(got)}`;
      if (got.length > area.maxPayload) {
        problem(`${what}: more than the area's payload`);
        return;
      }
      let want: { length: number; truncated: boolean; oversize: number };
      if (!(length >= 4)) {
        problem(`${what}: a length under 4 (no header) reached the fetch`);
        return;
      } else if (length > area.maxLength) {
        want = { length: Math.min(area.maxPayload, capacity), truncated: false, oversize: 1 };
      } else {
        const n = length - 4;
        want = { length: Math.min(n, capacity), truncated: n > capacity, oversize: 0 };
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problem(`${what}, expected ${JSON.stringify(want)}`);
        return;
      }
      if (!sameBytes(buffer.data, snapshot, SMT_PAYLOAD_OFFSET, got.length)) {
        problem(`${what}: the bytes are not the area's`);
      }
    },
    markTxDone: (xfer: Xfer, error: unknown) => {
      inner.markTxDone(xfer, error);
    },
    quiesce: () => {
      p.quiescing = true;
      return inner.quiesce();
    },
    free: () => inner.free(),
  };
  if (inner.clearChannel !== undefined) {
    const clear = inner.clearChannel.bind(inner);
    wrapped.clearChannel = (ctx: unknown) => {
      clear(ctx);
    };
  }
  if (inner.pollDone !== undefined) {
    const poll = inner.pollDone.bind(inner);
    wrapped.pollDone = (xfer: Xfer): boolean => {
      const c = p.counters as ChannelCounters;
      const status = area.status();
      const bad = c.badMessageTotal;
      const done = poll(xfer);
      const counted = c.badMessageTotal - bad;
      if ((status & (SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR)) === 0) {
        if (done || counted !== 0)
          problem(`a poll of a busy area returned ${done}, counted ${counted}`);
        return done;
      }
      if (p.examined) {
        if (counted !== 0) problem(`a poll counted a reply looked at already (${counted})`);
      } else if (done === (counted === 1) || counted > 1) {
        problem(
          `the first poll of the reply (header 0x${area.header().toString(16)}) returned ${done} and counted ${counted}: expected the reply taken or counted once`,
        );
      }
      p.examined = true;
      return done;
    };
  }
  return wrapped;
}

/** Whether `a[0, n)` equals `b[from, from + n)`. */
function sameBytes(a: Uint8Array, b: Uint8Array, from: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[from + i]) return false;
  return true;
}
