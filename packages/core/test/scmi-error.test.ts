import {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
} from '../src/errors/scmi-error.js';
import { ScmiProtocolId } from '../src/wire/protocol-id.js';
import { ScmiStatus } from '../src/wire/status.js';

const base = { protocolId: ScmiProtocolId.BASE, messageId: 0 };

function samples(): ScmiError[] {
  return [
    new ScmiError('E_X', 'x'),
    new ScmiStatusError(ScmiStatus.NOT_FOUND, base),
    new ScmiTimeoutError(base, 7, 30),
    new ScmiTransportError('E_CHAN_BUSY', 'busy'),
    new ScmiMalformedError('bad'),
    new ScmiShutdownError('scmi0'),
    new ScmiConfigError('channels[0].id', 'must be an integer'),
  ];
}

describe(ScmiError, () => {
  describe('constructor', () => {
    it('should set code, message, name and cause', () => {
      const cause = new Error('root');
      const e = new ScmiError('E_X', 'went wrong', { cause });
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe('E_X');
      expect(e.message).toBe('went wrong');
      expect(e.name).toBe('ScmiError');
      expect(e.cause).toBe(cause);
    });

    it('should name each subclass after itself', () => {
      expect(samples().map((e) => e.name)).toEqual([
        'ScmiError',
        'ScmiStatusError',
        'ScmiTimeoutError',
        'ScmiTransportError',
        'ScmiMalformedError',
        'ScmiShutdownError',
        'ScmiConfigError',
      ]);
    });
  });

  describe('.is', () => {
    it('should recognize every subclass', () => {
      for (const e of samples()) expect(ScmiError.is(e)).toBe(true);
    });

    it('should reject plain errors and non-objects', () => {
      for (const v of [new Error('x'), undefined, null, 'E_X', { code: 'E_X' }]) {
        expect(ScmiError.is(v)).toBe(false);
      }
    });

    it('should recognize an error branded by another copy of the package', () => {
      const foreign = { [Symbol.for('@scmi-ts/core/ScmiError')]: true };
      expect(ScmiError.is(foreign)).toBe(true);
    });
  });

  describe('subclass .is', () => {
    it('should recognize only its own class', () => {
      const checks: ((v: unknown) => boolean)[] = [
        (v) => ScmiStatusError.is(v),
        (v) => ScmiTimeoutError.is(v),
        (v) => ScmiTransportError.is(v),
        (v) => ScmiMalformedError.is(v),
        (v) => ScmiShutdownError.is(v),
        (v) => ScmiConfigError.is(v),
      ];
      const errors = samples().slice(1);
      checks.forEach((is, i) => {
        errors.forEach((e, j) => {
          expect(is(e)).toBe(i === j);
        });
      });
    });
  });
});

describe(ScmiStatusError, () => {
  it('should carry the status and the message reference, and name both in its message', () => {
    const e = new ScmiStatusError(ScmiStatus.NOT_FOUND, { protocolId: 0x14, messageId: 3 });
    expect(e.code).toBe('E_STATUS');
    expect([e.status, e.protocolId, e.messageId]).toEqual([-4, 0x14, 3]);
    expect(e.message).toBe('clock message 0x3 failed: NOT_FOUND (-4)');
    // A message every protocol has is named too.
    expect(new ScmiStatusError(-1, { protocolId: 0x14, messageId: 0x10 }).message).toBe(
      'clock message 0x10 NEGOTIATE_PROTOCOL_VERSION failed: NOT_SUPPORTED (-1)',
    );
  });

  it('should name a status outside the table as unknown', () => {
    expect(new ScmiStatusError(-42, base).message).toContain('UNKNOWN(-42) (-42)');
  });
});

describe(ScmiTimeoutError, () => {
  it('should carry the token, the timeout and the phase', () => {
    const e = new ScmiTimeoutError(base, 7, 30);
    expect(e.code).toBe('E_TIMEOUT');
    expect([e.token, e.timeoutMs, e.phase]).toEqual([7, 30, 'response']);
    expect(e.message).toBe('base message 0x0 PROTOCOL_VERSION (token 7): no response after 30 ms');
  });

  it('should say which reply was missing for a delayed response', () => {
    const e = new ScmiTimeoutError(base, 1, 2000, 'delayed-response');
    expect(e.message).toContain('no delayed response after 2000 ms');
  });
});

describe(ScmiMalformedError, () => {
  it('should default its code to E_MALFORMED', () => {
    expect(new ScmiMalformedError('bad').code).toBe('E_MALFORMED');
    expect(new ScmiMalformedError('bad', 'E_HEADER').code).toBe('E_HEADER');
  });
});

describe(ScmiShutdownError, () => {
  it('should name the agent and what was aborted', () => {
    const e = new ScmiShutdownError('scmi0', 'wait for a free transfer');
    expect(e.code).toBe('E_SHUTDOWN');
    expect(e.message).toBe('scmi0: wait for a free transfer aborted: the agent is shutting down');
  });
});

describe(ScmiConfigError, () => {
  it('should carry the dotted path of the field', () => {
    const e = new ScmiConfigError('channels[1].protocols[0]', 'unknown protocol');
    expect(e.code).toBe('E_CONFIG');
    expect(e.field).toBe('channels[1].protocols[0]');
    expect(e.message).toBe('invalid configuration: channels[1].protocols[0]: unknown protocol');
  });
});
