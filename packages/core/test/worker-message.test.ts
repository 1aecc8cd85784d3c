import {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
} from '../src/errors/scmi-error.js';
import {
  MAX_CAUSE_DEPTH,
  deserializeError,
  isSerializedError,
  serializeError,
  type SerializedError,
} from '../src/worker/worker-message.js';
import { ScmiProtocolId } from '../src/wire/protocol-id.js';
import { ScmiStatus } from '../src/wire/status.js';

const clock = { protocolId: ScmiProtocolId.CLOCK, messageId: 3 };

/** What the host gets for `error` thrown in a worker: serialized, cloned across, rebuilt. */
function across(error: unknown): Error {
  const wire: unknown = structuredClone(serializeError(error));
  if (!isSerializedError(wire)) throw new Error('not a serialized error');
  return deserializeError(wire);
}

/** A subclass another package might define (as platform's `PlatformError`). */
class VendorError extends ScmiError {}

describe('worker error serialization', () => {
  describe('having each core error class thrown in the worker', () => {
    it.each<[string, () => ScmiError, (e: Error) => boolean]>([
      ['ScmiError', () => new ScmiError('E_X', 'x'), (e) => e.constructor === ScmiError],
      [
        'ScmiStatusError',
        () => new ScmiStatusError(ScmiStatus.DENIED, clock),
        (e) => e instanceof ScmiStatusError && ScmiStatusError.is(e),
      ],
      [
        'ScmiTimeoutError',
        () => new ScmiTimeoutError(clock, 9, 30, 'delayed-response'),
        (e) => e instanceof ScmiTimeoutError && ScmiTimeoutError.is(e),
      ],
      [
        'ScmiTransportError',
        () => new ScmiTransportError('E_CHAN_BUSY', 'busy'),
        (e) => e instanceof ScmiTransportError && ScmiTransportError.is(e),
      ],
      [
        'ScmiMalformedError',
        () => new ScmiMalformedError('bad length', 'E_OVERFLOW'),
        (e) => e instanceof ScmiMalformedError && ScmiMalformedError.is(e),
      ],
      [
        'ScmiShutdownError',
        () => new ScmiShutdownError('scmi7', 'wait'),
        (e) => e instanceof ScmiShutdownError && ScmiShutdownError.is(e),
      ],
      [
        'ScmiConfigError',
        () => new ScmiConfigError('wire.pollWindowUs', 'out of range'),
        (e) => e instanceof ScmiConfigError && ScmiConfigError.is(e),
      ],
    ])('should rebuild a %s as that class, with its fields', (name, make, isThatClass) => {
      const thrown = make();
      const got = across(thrown);
      expect(isThatClass(got)).toBe(true);
      expect(ScmiError.is(got)).toBe(true);
      expect(got.name).toBe(name);
      expect(got.message).toBe(thrown.message);
      expect(got.stack).toBe(thrown.stack);
      // Every own field the class defines, compared as data (the brands are symbols).
      expect(Object.entries(got)).toEqual(Object.entries(thrown));
    });

    it('should keep the fields of a status and a timeout error', () => {
      expect(across(new ScmiStatusError(ScmiStatus.DENIED, clock))).toMatchObject({
        code: 'E_STATUS',
        status: ScmiStatus.DENIED,
        protocolId: ScmiProtocolId.CLOCK,
        messageId: 3,
      });
      const timeout = across(new ScmiTimeoutError(clock, 9, 30, 'delayed-response'));
      expect(timeout).toMatchObject({ token: 9, timeoutMs: 30, phase: 'delayed-response' });
    });

    it("should keep a command's name, and the place of a malformed reply", () => {
      const named = { ...clock, messageName: 'CLOCK_DESCRIBE_RATES' };
      expect(across(new ScmiStatusError(ScmiStatus.DENIED, named))).toMatchObject({
        messageName: 'CLOCK_DESCRIBE_RATES',
        message: 'clock message 0x3 CLOCK_DESCRIBE_RATES failed: DENIED (-3)',
      });
      expect(across(new ScmiTimeoutError(named, 9, 30))).toMatchObject({
        messageName: 'CLOCK_DESCRIBE_RATES',
      });
      const placed = Object.assign(new ScmiMalformedError('clock message 0x6 (token 4): short'), {
        protocolId: 0x14,
        messageId: 6,
        token: 4,
      });
      expect(across(placed)).toMatchObject({
        message: 'clock message 0x6 (token 4): short',
        protocolId: 0x14,
        messageId: 6,
        token: 4,
      });
    });
  });

  it("should rebuild another package's ScmiError subclass as its core base, with its name and code", () => {
    const thrown = new VendorError('E_VENDOR', 'vendor says no');
    const got = across(thrown);
    expect(ScmiError.is(got)).toBe(true);
    expect(got).toBeInstanceOf(ScmiError);
    expect(got.name).toBe('VendorError');
    expect(got).toHaveProperty('code', 'E_VENDOR');
    expect(got.message).toBe('vendor says no');
  });

  it('should rebuild a plain error as an Error with its name, code and field, not as an ScmiError', () => {
    const thrown = Object.assign(new RangeError('nope'), { code: 'ERR_X', field: 'f' });
    const got = across(thrown);
    expect(got).toBeInstanceOf(Error);
    expect(ScmiError.is(got)).toBe(false);
    expect(got).toMatchObject({ name: 'RangeError', message: 'nope', code: 'ERR_X', field: 'f' });
  });

  it('should rebuild the cause chain, each link as its own class', () => {
    const root = new ScmiTimeoutError(clock, 1, 30);
    const thrown = new ScmiTransportError('E_SEND', 'send failed', { cause: root });
    const got = across(thrown);
    expect(got).toBeInstanceOf(ScmiTransportError);
    expect(got.cause).toBeInstanceOf(ScmiTimeoutError);
    expect((got.cause as ScmiTimeoutError).token).toBe(1);
    expect(Object.keys(got)).not.toContain('cause'); // not enumerable, as a native cause
  });

  it(`should cut a cause chain after ${MAX_CAUSE_DEPTH} links, also a cyclic one`, () => {
    const cyclic = new Error('loop');
    cyclic.cause = cyclic;
    let got: unknown = across(cyclic);
    let links = 0;
    while ((got as Error).cause !== undefined) {
      got = (got as Error).cause;
      links++;
    }
    expect(links).toBe(MAX_CAUSE_DEPTH);
  });

  describe('isSerializedError', () => {
    const ok: SerializedError = { name: 'E', message: 'm' };
    it.each<[string, unknown]>([
      ['a kind core does not have', { ...ok, kind: 'ScmiPanicError' }],
      ['a status that is not a number', { ...ok, kind: 'ScmiStatusError', status: '-3' }],
      ['a phase that is not a string', { ...ok, phase: 1 }],
      ['a cause that is not an error', { ...ok, cause: 'because' }],
      [
        'a cause chain deeper than the serializer sends',
        Array.from({ length: MAX_CAUSE_DEPTH + 1 }).reduce<SerializedError>(
          (cause) => ({ ...ok, cause }),
          ok,
        ),
      ],
    ])('should refuse %s', (_, value) => {
      expect(isSerializedError(value)).toBe(false);
    });

    it('should accept a cause chain as deep as the serializer sends', () => {
      const deepest = Array.from({ length: MAX_CAUSE_DEPTH }).reduce<SerializedError>(
        (cause) => ({ ...ok, cause }),
        ok,
      );
      expect(isSerializedError(deepest)).toBe(true);
    });
  });

  it('should rebuild a core error that lacks a field its constructor needs as a plain Error', () => {
    const got = deserializeError({
      name: 'ScmiStatusError',
      message: 'm',
      kind: 'ScmiStatusError',
    });
    expect(ScmiError.is(got)).toBe(false);
    expect(got).toMatchObject({ name: 'ScmiStatusError', message: 'm' });
  });
});
