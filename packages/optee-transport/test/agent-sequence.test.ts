import { PtaScmiCommand, TeeParamType, type TeeMemrefParam, type TeeParam } from '../src/index.js';
import { createOpteeHarness } from './support/harness.js';

const CLOCK = 0x14;

// What the agent side sends to the TEE, as Linux optee.c: CAPABILITIES once in a throw-away
// session, then per channel a session and GET_CHANNEL_HANDLE (SMT with a static area, MSG
// otherwise), and at removal the channel sessions closed newest first.
describe.each(['static', 'dynamic'] as const)(
  'the OP-TEE agent side, as optee.c (%s shmem)',
  (shmem) => {
    it('should query capabilities once in a throw-away session, then open a session and a channel handle per channel, and close them newest first', async () => {
      const h = await createOpteeHarness({ shmem });
      const d = h.ends.driver;
      const log: string[] = [];
      const open = d.openSession.bind(d);
      const close = d.closeSession.bind(d);
      const invoke = d.invoke.bind(d);
      const submit = d.submit.bind(d);
      jest.spyOn(d, 'openSession').mockImplementation(async (u, l) => {
        const r = await open(u, l);
        log.push(`open ${r.session} login=0x${l.toString(16)}`);
        return r;
      });
      jest.spyOn(d, 'closeSession').mockImplementation((s) => {
        log.push(`close ${s}`);
        return close(s);
      });
      jest.spyOn(d, 'invoke').mockImplementation((s, f, c, p) => {
        log.push(`invoke ${s} cmd${f}${f === 3 ? ` caps=${(p[0] as { b: number }).b}` : ''}`);
        return invoke(s, f, c, p);
      });
      const msgParams: (readonly TeeParam[])[] = [];
      const cmds = new Set<number>();
      jest.spyOn(d, 'submit').mockImplementation((s, f, c, p, cb) => {
        cmds.add(f);
        if (f === PtaScmiCommand.PROCESS_MSG_CHANNEL) msgParams.push(p.map((x) => ({ ...x })));
        submit(s, f, c, p, cb);
      });
      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] });
      const caps = log.filter((l) => l.endsWith('cmd0'));
      expect(caps).toHaveLength(1);
      // throw-away session: opened, CAPABILITIES, closed, before any channel session.
      const first = log[0] as string;
      const sid = first.split(' ')[1];
      expect(log.slice(0, 3)).toEqual([first, `invoke ${sid} cmd0`, `close ${sid}`]);
      expect(first).toContain('login=0x80000000');
      const handles = log.filter((l) => l.includes('cmd3'));
      expect(handles).toHaveLength(2);
      const want = shmem === 'static' ? 1 : 2;
      expect(handles.every((l) => l.endsWith(`caps=${want}`))).toBe(true);
      expect(h.ends.optee.stats.openSessions).toBe(2);
      expect(cmds).toEqual(new Set([shmem === 'static' ? 1 : 4]));
      if (shmem === 'dynamic') {
        // Linux: the same shm as p1 (command size) and p2 (SCMI_SHMEM_MAX_PAYLOAD_SIZE, 104).
        const p = msgParams[0] as readonly TeeParam[];
        expect(p[1]?.type).toBe(TeeParamType.MEMREF_INPUT);
        expect(p[2]?.type).toBe(TeeParamType.MEMREF_OUTPUT);
        expect((p[1] as TeeMemrefParam).shm).toBe((p[2] as TeeMemrefParam).shm);
        expect((p[2] as TeeMemrefParam).shm.size).toBe(104);
        expect((p[2] as TeeMemrefParam).size).toBe(104);
      }
      const chanSessions = log
        .filter((l) => l.startsWith('open'))
        .slice(1)
        .map((l) => l.split(' ')[1]);
      log.length = 0;
      await agent.remove();
      const closes = log.filter((l) => l.startsWith('close')).map((l) => l.split(' ')[1]);
      expect(closes).toEqual([...chanSessions].reverse());
      await h.close();
    });
  },
);
