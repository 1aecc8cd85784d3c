import { TeeError, TeeOrigin, TeeResult } from '../src/index.js';

describe(TeeError, () => {
  it('should carry the result, the origin and a code, and be recognized by is()', () => {
    const e = new TeeError(TeeResult.SHORT_BUFFER, TeeOrigin.TEE, 'invoke');
    expect([e.result, e.origin, e.code, e.originName]).toEqual([
      TeeResult.SHORT_BUFFER,
      TeeOrigin.TEE,
      'TEE_ERROR_SHORT_BUFFER',
      'TEE_ORIGIN_TEE',
    ]);
    expect(e.message).toBe('invoke: TEE_ERROR_SHORT_BUFFER (TEE_ORIGIN_TEE)');
    expect(TeeError.is(e)).toBe(true);
    expect(TeeError.is(new Error('x'))).toBe(false);
    expect(TeeError.is(null)).toBe(false);
  });
});
