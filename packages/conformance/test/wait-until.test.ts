import { waitUntil } from '../src/wait-until.js';

describe(waitUntil, () => {
  it('should return as soon as the condition holds, sync or async', async () => {
    let calls = 0;
    await waitUntil(() => ++calls === 3);
    expect(calls).toBe(3);
    let asyncCalls = 0;
    await waitUntil(() => Promise.resolve(++asyncCalls >= 2));
    expect(asyncCalls).toBe(2);
  });

  it('should give up without throwing once the limit passed, leaving the assertion to the caller', async () => {
    let calls = 0;
    await expect(
      waitUntil(() => {
        calls++;
        return false;
      }, 15),
    ).resolves.toBeUndefined();
    // Looked at least at the start and once after the deadline passed.
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('should end with the error of a condition that throws or rejects', async () => {
    await expect(
      waitUntil(() => {
        throw new Error('broken');
      }),
    ).rejects.toThrow('broken');
    await expect(waitUntil(() => Promise.reject(new Error('gone')))).rejects.toThrow('gone');
  });
});
