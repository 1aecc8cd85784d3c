import { connect, type Socket } from 'node:net';
import { PeerFrameReader, encodePeerFrame, type PeerFrame, type PeerPort } from '@scmi-ts/platform';

/** A minimal peer-port client: one socket, frames in and out. */
export class PeerClient {
  readonly #socket: Socket;
  readonly #reader = new PeerFrameReader({ maxFrameSize: 1 << 20 });
  readonly #frames: PeerFrame[] = [];
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#frames.push(...this.#reader.push(chunk).frames);
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#wake();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Connects to a port. */
  public static async open(port: PeerPort): Promise<PeerClient> {
    const address = port.address;
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new PeerClient(socket);
  }

  /** Whether the server closed the socket. */
  public get isClosed(): boolean {
    return this.#socket.destroyed || this.#socket.readableEnded;
  }

  /** Writes raw bytes. */
  public write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** Writes one frame. */
  public send(kind: number, payload: Uint8Array): void {
    this.write(encodePeerFrame(kind, payload));
  }

  /** Stops reading: what the server sends waits in the sockets (a client that does not read). */
  public pause(): void {
    this.#socket.pause();
  }

  /** Reads again after {@link PeerClient.pause}. */
  public resume(): void {
    this.#socket.resume();
  }

  /** Ends our side (half close). */
  public end(): void {
    this.#socket.end();
  }

  /** Waits until `n` frames have arrived (or the socket closed) and takes them. */
  public async frames(n: number): Promise<PeerFrame[]> {
    while (this.#frames.length < n && !this.#socket.destroyed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.#frames.splice(0, n);
  }

  /** Closes the socket and waits for it. */
  public async close(): Promise<void> {
    this.#socket.destroy();
    await this.closed;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
