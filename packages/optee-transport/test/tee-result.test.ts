import { TeeOrigin, TeeResult, teeOriginName, teeResultName } from '../src/index.js';

describe(teeResultName, () => {
  it('should name known results and show unknown ones in hex', () => {
    expect(teeResultName(0)).toBe('TEE_SUCCESS');
    expect(teeResultName(TeeResult.BUSY)).toBe('TEE_ERROR_BUSY');
    expect(teeResultName(0x12345)).toBe('TEE_ERROR_UNKNOWN(0x00012345)');
    expect(teeOriginName(TeeOrigin.TRUSTED_APP)).toBe('TEE_ORIGIN_TRUSTED_APP');
    expect(teeOriginName(9)).toBe('TEE_ORIGIN_UNKNOWN(9)');
  });
});
