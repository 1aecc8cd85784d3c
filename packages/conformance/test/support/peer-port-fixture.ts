import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWorkerGone, resolveWorkerEntry, startWorker, type Clock } from '@scmi-ts/core';
import type {
  FixtureEnds,
  SameThreadFixtureContext,
  TransportFixture,
  WorkerFixtureContext,
  WorkerFixtureSession,
} from '@scmi-ts/conformance';
import {
  PeerFrameKind,
  PeerPort,
  PeerPortConnection,
  connectPeerPort,
  peerPortTransport,
} from '@scmi-ts/platform';
import type {
  PeerPortWorkerData,
  PeerPortWorkerPlatformState,
  PeerPortWorkerPort,
} from './peer-port-worker.js';

// ---- Same thread: a clock-driven stand-in for the socket ------------------------------------------

/** Where the same-thread "socket" says it goes (nothing listens there: it is in memory). */
const IN_MEMORY_PATH = '/in-memory/peer-port-fixture.sock';

/** A frame's kind (its first little-endian word); each chunk the stand-in carries is one frame. */
function frameKind(chunk: Uint8Array): number {
  return chunk.byteLength >= 4
    ? new DataView(chunk.buffer, chunk.byteOffset).getUint32(0, true)
    : -1;
}

/**
 * One end of a {@link ClockWire}: the part of `net.Socket` that `PeerPortConnection` (agent end)
 * and `PeerPort` (platform end) use — `on`/`once`/`off` of `data`, `error`, `end` and `close`,
 * `write`, `end`, `destroy`, `destroyed`, `writable`, `writableLength`, `setNoDelay`.
 */
class ClockSocket extends EventEmitter {
  public destroyed = false;
  public writable = true;
  /** Nothing waits in a user-space buffer: every write is carried as a whole. */
  public readonly writableLength = 0;

  public constructor(private readonly wire: ClockWire) {
    super();
  }

  public setNoDelay(): this {
    return this;
  }

  /** Carries `chunk` (one whole frame: both ends write one frame per call) to the other end. */
  public write(chunk: Uint8Array): boolean {
    // Both users check first (`throwIfLost`, `socket.destroyed`): a net.Socket would fail it.
    if (this.destroyed) return false;
    this.wire.carry(this, Buffer.from(chunk));
    return true;
  }

  /** Only the port's flush path ends a socket (after the client ended): closed here at once. */
  public end(): this {
    return this.destroy();
  }

  /**
   * Closes this end: `close` on a later microtask, as Node emits it on a later tick (never on the
   * virtual clock: `FixtureEnds.close` must settle while nothing runs the clock), and the other
   * end hears of it through the wire, after what was written to it before.
   */
  public destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    queueMicrotask(() => this.emit('close', false));
    this.wire.hangUp(this);
    return this;
  }
}

/**
 * An in-memory byte stream between the agent's `PeerPortConnection` and the platform's
 * `PeerPort`, every delivery a task on the kit's virtual clock: agent→platform writes are
 * scheduled (`clock.schedule`); platform→agent writes go to the kit's interceptor when one is set
 * (which delivers them when it chooses), else are scheduled. A close reaches the other end after
 * the writes scheduled before it.
 */
class ClockWire {
  public readonly agent = new ClockSocket(this);
  public readonly platform = new ClockSocket(this);
  public interceptor: ((deliver: () => void) => void) | undefined;
  /**
   * Responses and P2A messages that reached an agent end already closed: dropped by the wire
   * (a `net.Socket` would leave them in a kernel buffer nobody reads). Each frame once.
   */
  public droppedAtAgent = 0;

  public constructor(private readonly clock: Clock) {}

  public carry(from: ClockSocket, chunk: Buffer): void {
    const to = from === this.agent ? this.platform : this.agent;
    let delivered = false;
    const deliver = (): void => {
      if (delivered) return;
      delivered = true;
      this.#arrive(to, chunk);
    };
    const interceptor = this.interceptor;
    if (from === this.platform && interceptor !== undefined) interceptor(deliver);
    else this.clock.schedule(deliver);
  }

  public hangUp(from: ClockSocket): void {
    const to = from === this.agent ? this.platform : this.agent;
    this.clock.schedule(() => {
      to.destroy();
    });
  }

  #arrive(to: ClockSocket, chunk: Buffer): void {
    if (to.destroyed) {
      const kind = frameKind(chunk);
      if (to === this.agent && (kind === PeerFrameKind.MSG || kind === PeerFrameKind.P2A)) {
        this.droppedAtAgent++;
      }
      return;
    }
    to.emit('data', chunk);
  }
}

/** The part of `net.Server` a `PeerPort` uses; its one connection is emitted by the fixture. */
class ClockServer extends EventEmitter {
  public address(): string {
    return IN_MEMORY_PATH;
  }

  public close(done?: () => void): this {
    queueMicrotask(() => {
      this.emit('close');
      done?.();
    });
    return this;
  }
}

/**
 * Same-thread ends: the platform's real `PeerPort` (framing, dispatch, link, close) and the
 * agent's real `PeerPortConnection`, joined by a {@link ClockWire} instead of a socket.
 */
function openSameThreadPeerPort(ctx: SameThreadFixtureContext): FixtureEnds {
  const wire = new ClockWire(ctx.clock);
  const server = new ClockServer();
  // `PeerPort`'s and `PeerPortConnection`'s constructors are @internal (startPeerPort and
  // connectPeerPort build them over real sockets, whose I/O the virtual clock does not wait
  // for): the casts hand them the in-memory stand-ins, which have the surface they use.
  const port = new PeerPort(server as unknown as Server, ctx.platform, {
    agentIds: [ctx.agentId],
  });
  server.emit('listening');
  // The port accepts it now, as it would on `connect`: the platform connects the agent id.
  server.emit('connection', wire.platform);
  const connection = new PeerPortConnection(
    wire.agent as unknown as Socket,
    { path: IN_MEMORY_PATH },
    { p2a: true, maxFrameSize: 4096 },
  );
  let closing: Promise<void> | undefined;
  return {
    transport: peerPortTransport,
    agentOptions: { transportConfig: { connection } },
    setAgentSignalInterceptor: (interceptor) => {
      wire.interceptor = interceptor;
    },
    // Frames the connection read for no channel (before the probe set them up, after the
    // teardown freed them), and those that reached its end once closed.
    droppedSignals: () => connection.stats.undelivered + wire.droppedAtAgent,
    close: () =>
      (closing ??= (async () => {
        await connection.close();
        await port.close();
      })()),
  };
}

// ---- Worker: the platform and its peer ports in a worker thread, over Unix sockets -----------------

/** How long a connection may take to see its port's close (all it was sent read first). */
const LOSS_WAIT_MS = 10_000;

/** Resolves once `connection` is lost (its socket closed or failed), or after `limitMs`. */
async function untilLost(connection: PeerPortConnection, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (let turn = 0; !connection.closed && Date.now() < deadline; turn++) {
    await new Promise((resolve) => (turn < 50 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
  return connection.closed;
}

async function startPeerPortWorker(ctx: WorkerFixtureContext): Promise<WorkerFixtureSession> {
  const dir = await mkdtemp(join(tmpdir(), 'scmi-peer-port-'));
  let removed: Promise<void> | undefined;
  const removeDir = (): Promise<void> => (removed ??= rm(dir, { recursive: true, force: true }));
  const data: PeerPortWorkerData = {
    platformConfig: ctx.platformConfig,
    seed: ctx.seed,
    agentId: ctx.agentId,
    dir,
  };
  const host = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'peer-port-worker'),
    data,
    name: 'peer-port-platform',
  }).catch(async (e: unknown) => {
    await removeDir();
    throw e;
  });
  // Set by kill(): the worker's thread was ended abruptly, nothing in it answers any more.
  let killing: Promise<void> | undefined;
  /** Undefined when the session was killed and `error` says the worker is gone; else throws. */
  const unlessKilled = (error: unknown): undefined => {
    if (killing !== undefined && isWorkerGone(error)) return undefined;
    throw error;
  };
  const platformState = async (): Promise<PeerPortWorkerPlatformState | undefined> =>
    (await host.call('platformState').catch(unlessKilled)) as
      PeerPortWorkerPlatformState | undefined;

  const open = async (): Promise<FixtureEnds> => {
    const before = await platformState();
    if (before === undefined) throw new Error('peer-port fixture: the worker was killed');
    let last = before;
    const { id, path } = (await host.call('openPort')) as PeerPortWorkerPort;
    const connection = await connectPeerPort({ path });
    /** The platform's counters once the wire's port closed: nothing more is taken after. */
    let atClose: PeerPortWorkerPlatformState | undefined;
    const violations: string[] = [];
    let closing: Promise<void> | undefined;
    const live = async (): Promise<PeerPortWorkerPlatformState | undefined> => {
      const state = await platformState();
      if (state !== undefined) last = state;
      return state;
    };
    return {
      transport: peerPortTransport,
      agentOptions: { transportConfig: { connection } },
      // Frames the connection read for no channel: a reply or a delayed response that came
      // after the agent's teardown freed its channels. The close below reads all the port sent.
      droppedSignals: () => connection.stats.undelivered,
      // Commands the platform took since the wire opened (the kit's runs use one wire at a
      // time); undefined once the worker was killed, unless the port had closed before.
      commandsTaken: async () => {
        const state = atClose ?? (await live());
        return state === undefined ? undefined : state.requests - before.requests;
      },
      // What the platform cancelled unsent since the wire opened: the port's close disconnects
      // the agent, and a reply it still held then is dropped there (an asynchronous operation's
      // delayed response counts when the operation ends, so this is read live).
      repliesCancelled: async () => {
        const state = (await live()) ?? last;
        return state.cancelledOnDisconnect - before.cancelledOnDisconnect;
      },
      transportViolations: () => violations,
      // The platform side first: the port closes the connection (the agent disconnected from the
      // platform, which cancels and counts what it still held), then the connection reads what
      // the port sent before its close, then sees the close. Closing the client first would lose
      // a reply sent as it closed, unread and counted nowhere. After kill() the worker closed
      // nothing, but its sockets went with its thread: the connection sees that close too.
      close: () =>
        (closing ??= (async () => {
          const state = (await host.call('closePort', id).catch(unlessKilled)) as
            PeerPortWorkerPlatformState | undefined;
          if (state !== undefined) {
            atClose = state;
            last = state;
          }
          if (!(await untilLost(connection, LOSS_WAIT_MS))) {
            violations.push(
              `the connection did not see its port close within ${LOSS_WAIT_MS} ms (${killing === undefined ? 'closePort' : 'the worker killed'})`,
            );
          }
          await connection.close();
        })()),
    };
  };

  return {
    open,
    setFaults: async (rules) => {
      await host.call('setFaults', rules);
    },
    releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
    faultCounts: async () => (await host.call('faultCounts')) as Readonly<Record<string, number>>,
    stop: async () => {
      await host.stop();
      await removeDir();
    },
    kill: () =>
      (killing ??= (async () => {
        await host.worker.terminate();
        await host.exited;
        await removeDir();
      })()),
  };
}

/**
 * The peer-port transport's fixture for the conformance kit. Same thread: the platform's real
 * `PeerPort` and the agent's real `PeerPortConnection` joined by an in-memory stream whose every
 * delivery is a task on the kit's virtual clock (platform→agent frames through the kit's
 * interceptor when set). Worker: the platform and `startPeerPort` in a worker thread, the agent
 * connecting with `connectPeerPort` over a Unix socket in a fresh `mkdtemp` directory — a port
 * and a connection per wire, closed platform side first.
 */
export const peerPortFixture: TransportFixture = {
  name: 'peer-port',
  // Not one of the `*-transport` packages' fixtures: replay hints give this module.
  stressModule: __filename,
  capabilities: { p2a: true, interrupt: true, polling: false, outOfOrder: true, worker: true },
  sameThread: (ctx) => Promise.resolve(openSameThreadPeerPort(ctx)),
  worker: (ctx) => startPeerPortWorker(ctx),
};
