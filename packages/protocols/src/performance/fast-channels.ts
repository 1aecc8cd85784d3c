import {
  CommonMessageId,
  ScmiError,
  ScmiMalformedError,
  type ProtocolHandle,
  type ScmiIoMem,
} from '@scmi-ts/core';
import { isRemovalError } from '../common/domain-table.js';

/** PERF_DESCRIBE_FASTCHANNEL's message id (PerformanceMessageId.DESCRIBE_FASTCHANNEL). */
const DESCRIBE_FASTCHANNEL = 0xb;
/** The commands a fast channel can carry (PerformanceMessageId). */
const LIMITS_SET = 0x5;
const LIMITS_GET = 0x6;
const LEVEL_SET = 0x7;
const LEVEL_GET = 0x8;
/** PROTOCOL_MESSAGE_ATTRIBUTES bit 0: the command has a fast channel (MSG_SUPPORTS_FASTCHANNEL). */
const MSG_SUPPORTS_FASTCHANNEL = 1 << 0;
/** PERF_DESCRIBE_FASTCHANNEL attributes bit 0: the channel has a doorbell. */
const FC_DOORBELL = 1 << 0;
/** The code of the error for a command whose PROTOCOL_MESSAGE_ATTRIBUTES has no bit 0. */
const NOT_ANNOUNCED = 'E_NOT_SUPPORTED';
/** rate_limit: bits 19:0 (Linux `GENMASK(19, 0)`). */
const RATE_LIMIT_MASK = 0xfffff;

/** A fast channel's doorbell, when PERF_DESCRIBE_FASTCHANNEL announces one (attributes bit 0). */
export interface PerformanceFastChannelDoorbell {
  /** The doorbell register's width in bits: 8, 16, 32 or 64 (attributes bits 2:1). */
  readonly widthBits: number;
  /** The doorbell register's address (doorbell_addr_high:low). */
  readonly address: bigint;
  /** The bits to set to ring it (doorbell_set_mask_high:low). */
  readonly setMask: bigint;
  /** The bits to preserve when ringing it (doorbell_preserve_mask_high:low). */
  readonly preserveMask: bigint;
}

/** A fast channel, as PERF_DESCRIBE_FASTCHANNEL describes it (Linux `scmi_msg_resp_desc_fc`). */
export interface PerformanceFastChannel {
  /** The attributes word as given (bit 0 doorbell, bits 2:1 doorbell width). */
  readonly attributes: number;
  /** The least time between two writes, in µs (rate_limit bits 19:0). */
  readonly rateLimitUs: number;
  /** The channel's address (chan_addr_high:chan_addr_low). */
  readonly address: bigint;
  /** The channel's size in bytes (chan_size: 4 for a level, 8 for limits). */
  readonly size: number;
  /** The doorbell; absent when attributes bit 0 is clear (its fields are then not read). */
  readonly doorbell?: PerformanceFastChannelDoorbell;
}

/**
 * The fast channels of one performance domain the client set up at init, by the command each
 * carries — what Linux's `scmi_perf_domain_init_fc` keeps in `dom->fc_info`. A command with a
 * channel here goes through it (no message); one without is sent as a message.
 */
export interface PerformanceDomainFastChannels {
  /** PERF_LEVEL_SET's channel (one u32, the level). */
  readonly levelSet?: PerformanceFastChannel;
  /** PERF_LEVEL_GET's channel (one u32, the level). */
  readonly levelGet?: PerformanceFastChannel;
  /** PERF_LIMITS_SET's channel (u32 range_max, then u32 range_min). */
  readonly limitsSet?: PerformanceFastChannel;
  /** PERF_LIMITS_GET's channel (u32 range_max, then u32 range_min). */
  readonly limitsGet?: PerformanceFastChannel;
  /**
   * The commands the client tried and did not set a channel up for, by message id, with why: a
   * failed PROTOCOL_MESSAGE_ATTRIBUTES (its error: a status, a timeout) or one without bit 0
   * (`E_NOT_SUPPORTED`), a failed PERF_DESCRIBE_FASTCHANNEL (its error), a chan_size other than
   * the command's (ScmiMalformedError `E_FAST_CHANNEL_SIZE`, counted; Linux reads chan_size into a
   * u8, and would take 0x104 as 4), a channel or doorbell not aligned to its words
   * (`E_FAST_CHANNEL_ALIGN`, counted) or over another's memory (`E_FAST_CHANNEL_OVERLAP`, counted;
   * neither checked by Linux), an address or doorbell the agent's memory map does not hold
   * (`E_NOT_MAPPED`). Linux logs these and sends the command as a message; so does this client
   * (`ph.logger`, at Linux's levels: a debug line when PROTOCOL_MESSAGE_ATTRIBUTES failed or did
   * not announce a channel, a warning for the others).
   */
  readonly skipped: ReadonlyMap<number, unknown>;
}

/**
 * The memory the fast channels of a protocol's domains set up so far take, so that a channel or a
 * doorbell the platform places over another is refused (Linux does not check: a doorbell rung over
 * a channel's words would corrupt them). Two set channels may share one doorbell register: a
 * doorbell exactly where another is does not count as an overlap. @internal
 */
export type FastChannelRanges = {
  readonly address: bigint;
  readonly size: number;
  readonly doorbell: boolean;
  readonly what: string;
}[];

/** A mapped doorbell and how to ring it (Linux `struct scmi_fc_db_info`). */
interface MappedDoorbell {
  readonly io: ScmiIoMem;
  readonly width: 1 | 2 | 4 | 8;
  readonly set: bigint;
  readonly preserve: bigint;
}

/** A mapped channel: its words, and its doorbell if it has one. */
interface MappedChannel {
  readonly io: ScmiIoMem;
  readonly doorbell?: MappedDoorbell;
}

/**
 * PERF_DESCRIBE_FASTCHANNEL for domain `id`, command `messageId`, decoded; the doorbell fields
 * are read only when attributes bit 0 announces a doorbell. @internal
 */
export async function describeFastChannel(
  ph: ProtocolHandle,
  id: number,
  messageId: number,
): Promise<PerformanceFastChannel> {
  const returns = await ph.xfer.transact(DESCRIBE_FASTCHANNEL, (w) => w.u32(id).u32(messageId), {
    txSize: 8,
    rxSize: 44,
  });
  return ph.xfer.decode(returns, (r): PerformanceFastChannel => {
    const attributes = r.u32();
    const rateLimitUs = r.u32() & RATE_LIMIT_MASK;
    const address = r.u64();
    const size = r.u32();
    const channel = { attributes, rateLimitUs, address, size };
    if ((attributes & FC_DOORBELL) === 0) return channel;
    const widthBits = 8 << ((attributes >>> 1) & 0x3);
    const doorbellAddress = r.u64();
    const setMask = r.u64();
    const preserveMask = r.u64();
    return {
      ...channel,
      doorbell: { widthBits, address: doorbellAddress, setMask, preserveMask },
    };
  });
}

/** The name of a command a fast channel can carry, for messages. */
function commandName(messageId: number): string {
  switch (messageId) {
    case LEVEL_SET:
      return 'PERF_LEVEL_SET';
    case LEVEL_GET:
      return 'PERF_LEVEL_GET';
    case LIMITS_SET:
      return 'PERF_LIMITS_SET';
    default:
      return 'PERF_LIMITS_GET';
  }
}

/**
 * The fast channels of one domain, set up at init and used by the client's level and limit
 * commands: writes and reads of the mapped words, each set rung on its doorbell. @internal
 */
export class DomainFastChannels {
  /** What {@link PerformanceProtocol.fastChannels} tells of the domain. */
  public readonly info: PerformanceDomainFastChannels;
  readonly #channels: ReadonlyMap<number, MappedChannel>;

  private constructor(
    info: PerformanceDomainFastChannels,
    channels: ReadonlyMap<number, MappedChannel>,
  ) {
    this.info = info;
    this.#channels = channels;
  }

  /**
   * Sets up domain `id`'s fast channels as Linux's `scmi_perf_domain_init_fc`, in its order:
   * PERF_LEVEL_GET, PERF_LIMITS_GET, then PERF_LEVEL_SET when the domain lets the agent set its
   * level and PERF_LIMITS_SET when it lets it set its limits. Each as
   * `scmi_common_fastchannel_init`: PROTOCOL_MESSAGE_ATTRIBUTES of the command must have bit 0,
   * then PERF_DESCRIBE_FASTCHANNEL, chan_size must be the command's (4 for a level, 8 for
   * limits), the channel is mapped (`ph.ioremap`), and a set channel's doorbell too (its width
   * from attributes bits 2:1); whatever fails leaves that command to messages, with the reason
   * in `skipped`. A removal under way ends it (thrown).
   */
  public static async init(
    ph: ProtocolHandle,
    id: number,
    canSetLevel: boolean,
    canSetLimits: boolean,
    taken: FastChannelRanges,
  ): Promise<DomainFastChannels> {
    const wanted: [number, number][] = [
      [LEVEL_GET, 4],
      [LIMITS_GET, 8],
    ];
    if (canSetLevel) wanted.push([LEVEL_SET, 4]);
    if (canSetLimits) wanted.push([LIMITS_SET, 8]);
    const described = new Map<number, PerformanceFastChannel>();
    const channels = new Map<number, MappedChannel>();
    const skipped = new Map<number, unknown>();
    for (const [messageId, validSize] of wanted) {
      const stage = { announced: false };
      try {
        const [channel, mapped] = await setUp(ph, id, messageId, validSize, taken, stage);
        described.set(messageId, channel);
        channels.set(messageId, mapped);
      } catch (error: unknown) {
        if (isRemovalError(error)) throw error;
        skipped.set(messageId, error);
        // As Linux's scmi_common_fastchannel_init: a command PROTOCOL_MESSAGE_ATTRIBUTES does not
        // announce a fast channel for, or failed for, is a debug line ("Skip FC init"); a failure
        // after it a warning ("Using regular messaging").
        const name = commandName(messageId);
        if (!stage.announced) {
          ph.logger.debug(`performance domain ${id}: ${name}: no fast channel announced`, {
            error,
          });
        } else {
          ph.logger.warn(
            `performance domain ${id}: no fast channel for ${name}, using regular messaging: ${error instanceof Error ? error.message : String(error)}`,
            { error },
          );
        }
      }
    }
    const info: PerformanceDomainFastChannels = {
      ...optional('levelSet', described.get(LEVEL_SET)),
      ...optional('levelGet', described.get(LEVEL_GET)),
      ...optional('limitsSet', described.get(LIMITS_SET)),
      ...optional('limitsGet', described.get(LIMITS_GET)),
      skipped,
    };
    return new DomainFastChannels(info, channels);
  }

  /** Whether command `messageId` goes through a fast channel. */
  public has(messageId: number): boolean {
    return this.#channels.has(messageId);
  }

  /**
   * Writes `words` into command `messageId`'s channel, in order, then rings its doorbell — Linux's
   * `iowrite32` of each word then `scmi_fc_ring_db`. Throws RevokedError once the protocol is
   * quiesced.
   */
  public write(messageId: number, words: readonly number[]): void {
    const mapped = this.#channels.get(messageId) as MappedChannel;
    words.forEach((word, i) => {
      mapped.io.write32(word, 4 * i);
    });
    if (mapped.doorbell !== undefined) ring(mapped.doorbell);
  }

  /** The `count` words of command `messageId`'s channel. */
  public words(messageId: number, count: number): number[] {
    const mapped = this.#channels.get(messageId) as MappedChannel;
    const words: number[] = [];
    for (let i = 0; i < count; i++) words.push(mapped.io.read32(4 * i));
    return words;
  }

  /** The `count` words of command `messageId`'s channel, as little-endian bytes (for `decode`). */
  public read(messageId: number, count: number): Uint8Array {
    const bytes = new Uint8Array(4 * count);
    const view = new DataView(bytes.buffer);
    this.words(messageId, count).forEach((word, i) => {
      view.setUint32(4 * i, word, true);
    });
    return bytes;
  }

  /**
   * Whether the channels still reach the memory: false once the protocol quiesced (the agent's
   * removal), every access then throwing RevokedError.
   */
  public get mapped(): boolean {
    for (const channel of this.#channels.values()) return channel.io.mapped;
    return false;
  }
}

/** `{ [key]: value }`, or nothing when `value` is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [k in K]?: V });
}

/** One command's channel: checked, described, mapped (see {@link DomainFastChannels.init}). */
async function setUp(
  ph: ProtocolHandle,
  id: number,
  messageId: number,
  validSize: number,
  taken: FastChannelRanges,
  stage: { announced: boolean },
): Promise<[PerformanceFastChannel, MappedChannel]> {
  const name = commandName(messageId);
  const returns = await ph.xfer.transact(
    CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES,
    (w) => w.u32(messageId),
    { txSize: 4, rxSize: 4 },
  );
  const attributes = ph.xfer.decode(returns, (r) => r.u32());
  if ((attributes & MSG_SUPPORTS_FASTCHANNEL) === 0) {
    throw new ScmiError(
      NOT_ANNOUNCED,
      `performance domain ${id}: ${name}'s PROTOCOL_MESSAGE_ATTRIBUTES (0x${attributes.toString(16)}) does not announce a fast channel (bit 0)`,
    );
  }
  stage.announced = true;
  const channel = await describeFastChannel(ph, id, messageId);
  if (channel.size !== validSize) {
    throw ph.xfer.malformed(
      new ScmiMalformedError(
        `performance domain ${id}: ${name}'s fast channel is ${channel.size} bytes (chan_size), not ${validSize}`,
        'E_FAST_CHANNEL_SIZE',
      ),
    );
  }
  const what = `performance domain ${id} ${name}'s fast channel`;
  const own = { address: channel.address, size: channel.size, doorbell: false, what };
  checkPlace(ph, own, taken);
  const io = ph.ioremap(channel.address, channel.size);
  if (io === undefined) {
    throw notMapped(id, name, 'fast channel', channel.address, channel.size);
  }
  const isSet = messageId === LEVEL_SET || messageId === LIMITS_SET;
  const db = channel.doorbell;
  if (!isSet || db === undefined) {
    taken.push(own);
    return [channel, { io }];
  }
  const width = (db.widthBits / 8) as 1 | 2 | 4 | 8;
  const bell = {
    address: db.address,
    size: width,
    doorbell: true,
    what: `performance domain ${id} ${name}'s doorbell`,
  };
  checkPlace(ph, bell, [...taken, own]);
  const dbIo = ph.ioremap(db.address, width);
  if (dbIo === undefined) throw notMapped(id, name, 'doorbell', db.address, width);
  taken.push(own, bell);
  return [
    channel,
    { io, doorbell: { io: dbIo, width, set: db.setMask, preserve: db.preserveMask } },
  ];
}

/**
 * Refuses, as a malformed reply (counted), a channel or doorbell the platform placed where its
 * words cannot be accessed whole — an address not aligned to its word (4 bytes for a channel's
 * words, the register's width for a doorbell) — or over memory another channel or doorbell of
 * the protocol takes (`taken`; a doorbell exactly where another is excepted).
 */
function checkPlace(
  ph: ProtocolHandle,
  place: FastChannelRanges[number],
  taken: FastChannelRanges,
): void {
  const align = place.doorbell ? BigInt(place.size) : 4n;
  if (place.address % align !== 0n) {
    throw ph.xfer.malformed(
      new ScmiMalformedError(
        `${place.what} is at 0x${place.address.toString(16)}, not ${align}-byte aligned`,
        'E_FAST_CHANNEL_ALIGN',
      ),
    );
  }
  const end = place.address + BigInt(place.size);
  for (const other of taken) {
    const same =
      place.doorbell &&
      other.doorbell &&
      other.address === place.address &&
      other.size === place.size;
    if (same) continue;
    if (place.address < other.address + BigInt(other.size) && other.address < end) {
      throw ph.xfer.malformed(
        new ScmiMalformedError(
          `${place.what} (${place.size} bytes at 0x${place.address.toString(16)}) overlaps ${other.what} (${other.size} bytes at 0x${other.address.toString(16)})`,
          'E_FAST_CHANNEL_OVERLAP',
        ),
      );
    }
  }
}

function notMapped(
  id: number,
  name: string,
  what: string,
  address: bigint,
  size: number,
): ScmiError {
  return new ScmiError(
    'E_NOT_MAPPED',
    `performance domain ${id}: ${name}'s ${what} (${size} bytes at 0x${address.toString(16)}) is in no region of the agent's memory map (createAgent's memoryMap option: a region at the base the platform's memory is seen at, with that same memory)`,
  );
}

/**
 * Rings a fast channel's doorbell as Linux's `scmi_common_fastchannel_db_ring`: with a preserve
 * mask, the register's bits under the mask are kept and the set mask ORed in; without one, the
 * set mask is written alone. The masks are cut to the register's width.
 */
function ring(db: MappedDoorbell): void {
  const bits = BigInt(db.width * 8);
  const mask = (1n << bits) - 1n;
  const set = db.set & mask;
  const preserve = db.preserve & mask;
  switch (db.width) {
    case 8: {
      const kept = preserve === 0n ? 0n : db.io.read64() & preserve;
      db.io.write64(set | kept);
      return;
    }
    case 4: {
      const kept = preserve === 0n ? 0 : db.io.read32() & Number(preserve);
      db.io.write32((Number(set) | kept) >>> 0);
      return;
    }
    case 2: {
      const kept = preserve === 0n ? 0 : db.io.read16() & Number(preserve);
      db.io.write16(Number(set) | kept);
      return;
    }
    default: {
      const kept = preserve === 0n ? 0 : db.io.read8() & Number(preserve);
      db.io.write8(Number(set) | kept);
    }
  }
}
