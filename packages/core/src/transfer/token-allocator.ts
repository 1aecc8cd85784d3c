import { SCMI_TOKEN_COUNT } from '../wire/header.js';

/**
 * Where a token sequence is: the last token allocated from it. Allocators that share one go on
 * with the same sequence (see {@link TokenAllocator}).
 */
export interface TokenSequence {
  /** The last token allocated (1023 before the first, so that the first is 0). */
  last: number;
}

/**
 * Allocates 10-bit SCMI tokens **monotonically**: the next token after the last one used, skipping
 * tokens still in flight, wrapping at 1024 (Linux "Introduce monotonically increasing tokens").
 * A reply to a timed-out command therefore does not match the next command.
 *
 * Allocators given the same {@link TokenSequence} go on with one sequence: core gives every probe
 * over one transport the same, so a probe that follows a failed one does not start again at token
 * 0, where the failed probe's late replies (same token, protocol and message) would be taken as its
 * own. Linux keeps the sequence module-wide (`static atomic_t transfer_last_id`, driver.c).
 *
 * @example
 * ```ts
 * const tokens = new TokenAllocator();
 * const t = tokens.allocate(); // 0, then 1, 2, …
 * tokens.free(t);
 * ```
 */
export class TokenAllocator {
  readonly #inFlight = new Uint8Array(SCMI_TOKEN_COUNT);
  readonly #sequence: TokenSequence;
  #count = 0;

  /** An allocator on `sequence` (default: a sequence of its own, from token 0). */
  public constructor(sequence: TokenSequence = { last: SCMI_TOKEN_COUNT - 1 }) {
    this.#sequence = sequence;
  }

  /** Tokens currently in flight. */
  public get inFlight(): number {
    return this.#count;
  }

  /**
   * The next free token after the last one allocated.
   *
   * @throws RangeError when all 1024 tokens are in flight (impossible with a pool under 1024).
   */
  public allocate(): number {
    if (this.#count >= SCMI_TOKEN_COUNT) throw new RangeError('all 1024 SCMI tokens are in flight');
    let t = this.#sequence.last;
    do {
      t = (t + 1) & (SCMI_TOKEN_COUNT - 1);
    } while (this.#inFlight[t] === 1);
    this.#inFlight[t] = 1;
    this.#sequence.last = t;
    this.#count++;
    return t;
  }

  /** Frees `token`; a no-op when it is not in flight. */
  public free(token: number): void {
    if (this.#inFlight[token] !== 1) return;
    this.#inFlight[token] = 0;
    this.#count--;
  }

  /** Whether `token` is in flight. */
  public isInFlight(token: number): boolean {
    return this.#inFlight[token] === 1;
  }
}
