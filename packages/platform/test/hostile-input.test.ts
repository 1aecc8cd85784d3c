import fc from 'fast-check';
import { ScmiStatus, readU32 } from '@scmi-ts/core';
import { Harness, command, decodeAnswer } from './support/harness';

describe('ScmiPlatform with hostile input', () => {
  it('should never throw, echo the header, fit the link and never hit a handler error', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 12, max: 160 }),
        fc.array(
          fc.record({
            agentId: fc.constantFrom(1, 2),
            protocolId: fc.constantFrom(0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x80),
            messageId: fc.integer({ min: 0, max: 0x11 }),
            token: fc.integer({ min: 0, max: 0x3ff }),
            payload: fc.oneof(
              fc.uint8Array({ maxLength: 24 }),
              fc
                .array(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat()), { maxLength: 5 })
                .map((words) => new Uint8Array(new Uint32Array(words).buffer)),
            ),
          }),
          { maxLength: 40 },
        ),
        (p2a, maxMsgSize, commands) => {
          const h = new Harness();
          h.connect(1, p2a, maxMsgSize);
          h.connect(2, !p2a, maxMsgSize);
          for (const c of commands) {
            const request = command(c.protocolId, c.messageId, c.token, c.payload);
            const response = h.platform.handle(c.agentId, 0, request);
            expect(response).toBeDefined();
            const bytes = response as Uint8Array;
            expect(readU32(bytes, 0)).toBe(readU32(request, 0));
            expect(bytes.byteLength - 4).toBeLessThanOrEqual(maxMsgSize);
            const a = decodeAnswer(bytes);
            if (a.status !== (ScmiStatus.SUCCESS as number)) expect(bytes.byteLength).toBe(8);
          }
          expect(h.platform.counters.handlerErrors).toBe(0);
          h.close();
        },
      ),
      { numRuns: 300, seed: 20261125 },
    );
  });

  it('should drop arbitrary bytes that are not a valid command header, without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const h = new Harness();
        h.connect(1);
        const response = h.platform.handle(1, 0, bytes);
        const c = h.platform.counters;
        expect(c.requests + c.droppedRequests).toBe(1);
        expect(response === undefined).toBe(c.droppedRequests === 1);
        h.close();
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
