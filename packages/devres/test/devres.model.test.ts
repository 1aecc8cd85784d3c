import fc from 'fast-check';
import { Device, Devres, DevresGroup, type ResourceHandle } from '@scmi-ts/devres';

/**
 * Model-based property test: random programs against a reference model. The model is a list of
 * live resources in registration order, each tagged with the groups that contain it; every
 * teardown must quiesce then release exactly the model's resources, newest first, once each.
 */
type Op =
  | { kind: 'add'; async: boolean }
  | { kind: 'acquire' }
  | { kind: 'openGroup' }
  | { kind: 'closeGroup'; pick: number }
  | { kind: 'releaseGroup'; pick: number }
  | { kind: 'removeGroup'; pick: number }
  | { kind: 'commit'; adds: number; fail: boolean }
  | { kind: 'early'; pick: number }
  | { kind: 'forget'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), async: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('acquire' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('openGroup' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('closeGroup' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('releaseGroup' as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('removeGroup' as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      adds: fc.nat(3),
      fail: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('early' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), pick: fc.nat() }) },
);

interface ModelEntry {
  name: string;
  groups: Set<number>;
  handle: ResourceHandle<unknown>;
}
interface ModelGroup {
  id: number;
  group: DevresGroup;
  live: boolean;
  parent: number | undefined;
}

async function runProgram(res: Devres, ops: Op[], log: string[]): Promise<ModelEntry[]> {
  const live: ModelEntry[] = [];
  const groups: ModelGroup[] = [];
  const openStack: number[] = [];
  let next = 0;

  const stepsFor = (name: string, async: boolean) => ({
    quiesce: () => {
      log.push(`q ${name}`);
      return async ? Promise.resolve() : undefined;
    },
    release: () => {
      log.push(`r ${name}`);
      return async ? Promise.resolve() : undefined;
    },
  });
  const expectFragment = async (expected: string[], run: () => Promise<unknown>) => {
    const before = log.length;
    await run().catch(() => undefined);
    expect(log.slice(before)).toEqual(expected);
  };
  const tearDownExpectation = (entries: ModelEntry[]) => {
    const newest = [...entries].reverse();
    return [...newest.map((e) => `q ${e.name}`), ...newest.map((e) => `r ${e.name}`)];
  };
  const liveGroups = () => groups.filter((g) => g.live);

  for (const op of ops) {
    switch (op.kind) {
      case 'add': {
        const name = `e${next++}`;
        const handle = res.add({ name, value: name, ...stepsFor(name, op.async) });
        live.push({ name, groups: new Set(openStack), handle });
        break;
      }
      case 'acquire': {
        const name = `e${next++}`;
        const steps = stepsFor(name, true);
        const handle = await res.acquire(name, () => Promise.resolve(name), steps.release, {
          quiesce: steps.quiesce,
        });
        live.push({ name, groups: new Set(openStack), handle });
        break;
      }
      case 'openGroup': {
        const id = groups.length;
        groups.push({ id, group: res.openGroup(`g${id}`), live: true, parent: openStack.at(-1) });
        openStack.push(id);
        break;
      }
      case 'closeGroup': {
        if (openStack.length === 0) break;
        const i = op.pick % openStack.length;
        (groups[openStack[i] as number] as ModelGroup).group.close();
        openStack.splice(i);
        break;
      }
      case 'releaseGroup':
      case 'removeGroup': {
        const candidates = liveGroups();
        if (candidates.length === 0) break;
        const g = candidates[op.pick % candidates.length] as ModelGroup;
        const i = openStack.indexOf(g.id);
        if (i >= 0) openStack.splice(i);
        g.live = false;
        if (op.kind === 'removeGroup') {
          g.group.remove();
          for (const e of live) e.groups.delete(g.id);
        } else {
          const inside = live.filter((e) => e.groups.has(g.id));
          await expectFragment(tearDownExpectation(inside), () => g.group.releaseAll());
          for (const e of inside) live.splice(live.indexOf(e), 1);
          // Nested groups went with it.
          for (const other of groups) if (isNestedIn(groups, other, g.id)) other.live = false;
        }
        break;
      }
      case 'commit': {
        const names: string[] = [];
        const gid = groups.length;
        let gref!: DevresGroup;
        const groupsNow = new Set([...openStack, gid]);
        const run = () =>
          res.group(`t${gid}`, (g) => {
            gref = g;
            for (let k = 0; k < op.adds; k++) {
              const name = `e${next++}`;
              names.push(name);
              const handle = g.add({ name, value: name, ...stepsFor(name, false) });
              live.push({ name, groups: groupsNow, handle });
            }
            if (op.fail) throw new Error('transaction failed');
          });
        const parent = openStack.at(-1);
        if (op.fail) {
          const before = log.length;
          await expect(run()).rejects.toThrow('transaction failed');
          const inside = live.filter((e) => names.includes(e.name));
          expect(log.slice(before)).toEqual(tearDownExpectation(inside));
          live.splice(live.length - names.length);
          groups.push({ id: gid, group: gref, live: false, parent });
        } else {
          await run();
          groups.push({ id: gid, group: gref, live: true, parent });
        }
        break;
      }
      case 'early': {
        if (live.length === 0) break;
        const e = live[op.pick % live.length] as ModelEntry;
        await expectFragment([`q ${e.name}`, `r ${e.name}`], () => res.release(e.handle));
        live.splice(live.indexOf(e), 1);
        break;
      }
      case 'forget': {
        if (live.length === 0) break;
        const e = live[op.pick % live.length] as ModelEntry;
        await expectFragment([], () => {
          res.forget(e.handle);
          return Promise.resolve();
        });
        live.splice(live.indexOf(e), 1);
        break;
      }
    }
  }
  return live;
}

function isNestedIn(groups: ModelGroup[], inner: ModelGroup, outer: number): boolean {
  for (let p = inner.parent; p !== undefined; p = groups[p]?.parent) if (p === outer) return true;
  return false;
}

describe('Devres (model-based)', () => {
  it('should release exactly the live resources, quiesced then released newest first, once each', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const log: string[] = [];
        const res = new Devres('model');
        const live = await runProgram(res, ops, log);
        const before = log.length;
        await res.releaseAll();
        const newest = [...live].reverse();
        expect(log.slice(before)).toEqual([
          ...newest.map((e) => `q ${e.name}`),
          ...newest.map((e) => `r ${e.name}`),
        ]);
        // Every resource was released at most once, and the forgotten ones never.
        const releases = log.filter((l) => l.startsWith('r '));
        expect(new Set(releases).size).toBe(releases.length);
      }),
      { numRuns: 300 },
    );
  });

  it('should tear down everything a failing probe registered, in reverse, and leave the device unbound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 25 }),
        fc.boolean(),
        async (ops, asyncThrow) => {
          const log: string[] = [];
          const device = new Device('model');
          let live: ModelEntry[] = [];
          const failure = new Error('probe failed');
          await expect(
            device.probe(async (res) => {
              live = await runProgram(res, ops, log);
              if (asyncThrow) await Promise.resolve();
              throw failure;
            }),
          ).rejects.toBe(failure);
          const newest = [...live].reverse();
          expect(log.slice(log.length - 2 * live.length)).toEqual([
            ...newest.map((e) => `q ${e.name}`),
            ...newest.map((e) => `r ${e.name}`),
          ]);
          expect(device.state).toBe('unbound');
          expect(device.devres).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });
});
