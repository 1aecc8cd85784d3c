import type { FaultRule } from '@scmi-ts/platform';

/** Little-endian bytes of a 32-bit word (a negative status: `le32(-3 >>> 0)`). */
export const le32 = (v: number): number[] => [
  v & 0xff,
  (v >>> 8) & 0xff,
  (v >>> 16) & 0xff,
  v >>> 24,
];

/** Little-endian bytes of a 64-bit value. */
export const le64 = (v: bigint): number[] => {
  const u = BigInt.asUintN(64, v);
  return [...le32(Number(u & 0xffffffffn)), ...le32(Number(u >> 32n))];
};

/** DENIED (-3) as a response's status bytes (at offset 4), for a `corrupt-bytes` fault. */
export const DENIED = le32(-3 >>> 0);
/** NOT_FOUND (-4) as a response's status bytes. */
export const NOT_FOUND = le32(-4 >>> 0);

/** A fault on the n-th response (every one when `nth` is left out) to a command of `protocolId`. */
export const onCommand = (
  protocolId: number,
  messageId: number,
  action: FaultRule['action'],
  nth?: number,
): FaultRule => ({
  match: { protocolId, messageId, ...(nth === undefined ? {} : { nth }) },
  action,
});

/** Overwrites response bytes from `offset` (4: the status; 8: the first return value). */
export const corrupt = (offset: number, bytes: number[]): FaultRule['action'] => ({
  kind: 'corrupt-bytes',
  offset,
  bytes,
});

/** A notification handler for a subscription whose notifications a test never expects. */
export const never = (): void => {
  throw new Error('never delivered');
};
