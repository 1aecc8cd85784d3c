/**
 * The channel handle GET_CHANNEL_HANDLE returns is what every PROCESS_* invocation must carry in
 * p[0].a — not the OP-TEE channel id it was asked for. OP-TEE's scmi-msg happens to return the
 * channel id as the handle (and so does the emulated PTA), so a driver sending the id passes
 * every other test. Here a TEE wrapper hands out `id + 0x100` and maps it back on the way in: a
 * PROCESS_* invocation carrying anything else reaches the PTA with a handle no channel has.
 */
import {
  PtaScmiCommand,
  TeeParamType,
  type TeeCallResult,
  type TeeParam,
  type TeeValueParam,
} from '../src/index.js';
import { createOpteeHarness } from './support/harness.js';

const CLOCK = 0x14;
const OFFSET = 0x100;
const PROCESS = new Set<number>([
  PtaScmiCommand.PROCESS_SMT_CHANNEL,
  PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE,
  PtaScmiCommand.PROCESS_MSG_CHANNEL,
]);
/** Never a channel of the PTA's: what an unknown handle is mapped to. */
const NO_CHANNEL = 0xffff_fff0;

describe.each(['static', 'dynamic'] as const)(
  'the channel handle on the wire (%s shmem)',
  (shmem) => {
    it('should carry the handle GET_CHANNEL_HANDLE returned, not the channel id, in p[0] of every PROCESS_* invocation', async () => {
      const h = await createOpteeHarness({ shmem });
      const d = h.ends.driver;
      const invoke = d.invoke.bind(d);
      const submit = d.submit.bind(d);
      /** The handle the TEE gave each session, and the channel id behind each handle. */
      const handleOf = new Map<number, number>();
      const channelOf = new Map<number, number>();
      const seen: { session: number; func: number; p0: TeeParam | undefined }[] = [];
      /** The PTA's view: the handle mapped back to the channel id (unknown: no channel). */
      const toPta = (session: number, func: number, params: readonly TeeParam[]): TeeParam[] => {
        seen.push({ session, func, p0: params[0] });
        const p0 = params[0] as TeeValueParam;
        const id = channelOf.get(p0.a) ?? NO_CHANNEL;
        return [{ ...p0, a: id }, ...params.slice(1)];
      };
      jest.spyOn(d, 'invoke').mockImplementation(async (s, f, c, p) => {
        if (PROCESS.has(f)) return invoke(s, f, c, toPta(s, f, p));
        const r: TeeCallResult = await invoke(s, f, c, p);
        if (f !== PtaScmiCommand.GET_CHANNEL_HANDLE || r.result !== 0) return r;
        const out = r.params[0] as TeeValueParam;
        const handle = out.a + OFFSET;
        handleOf.set(s, handle);
        channelOf.set(handle, out.a);
        return { ...r, params: [{ ...out, a: handle }] };
      });
      jest.spyOn(d, 'submit').mockImplementation((s, f, c, p, cb) => {
        submit(s, f, c, PROCESS.has(f) ? toPta(s, f, p) : p, cb);
      });

      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] });
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      const transfers: Promise<Uint8Array>[] = [];
      for (let i = 0; i < 10; i++) {
        transfers.push(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }));
        transfers.push(agent.transact(CLOCK, 0x1, undefined, { rxSize: 4 }));
      }
      expect(await Promise.all(transfers)).toHaveLength(20);

      // The channels know their handle apart from their OP-TEE channel id.
      const channels = h.ends.transport.diagnostics().channels;
      expect(channels.map((c) => [c.opteeChannelId, c.handle])).toEqual([
        [0, OFFSET],
        [1, 1 + OFFSET],
      ]);
      // Every PROCESS_* invocation: the command of the channel's mode, p[0] a VALUE_INPUT
      // holding the handle its session was given.
      expect(new Set(seen.map((x) => x.func))).toEqual(
        new Set([
          shmem === 'static'
            ? PtaScmiCommand.PROCESS_SMT_CHANNEL
            : PtaScmiCommand.PROCESS_MSG_CHANNEL,
        ]),
      );
      expect(seen.length).toBeGreaterThanOrEqual(21);
      expect(new Set(seen.map((x) => x.session)).size).toBe(2);
      for (const x of seen) {
        expect(x.p0?.type).toBe(TeeParamType.VALUE_INPUT);
        expect((x.p0 as TeeValueParam).a).toBe(handleOf.get(x.session));
      }
      // Nothing reached the PTA with an unknown handle.
      expect(h.ends.optee.stats.pta.refused).toBe(0);
      expect(h.ends.transport.diagnostics().totals).toMatchObject({ teeErrors: 0 });
      await agent.remove();
      expect(h.ends.optee.stats).toMatchObject({ openSessions: 0, registeredShm: 0 });
      await h.close();
    });
  },
);
