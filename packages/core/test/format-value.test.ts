import { describeArg, formatValue } from '@scmi-ts/core';
import { runInNewContext } from 'node:vm';

/** `{ id: 1, self: <itself> }`. */
function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { id: 1 };
  o.self = o;
  return o;
}

describe(formatValue, () => {
  describe('given a value JSON can write', () => {
    it.each<[string, unknown]>([
      ['a string', 'loopback'],
      ['a string with quotes and control characters', 'a"b\\c\n\t\u0001'],
      ['an empty string', ''],
      ['an integer', 12],
      ['a negative fraction', -1.5],
      ['a large number', 1e21],
      ['zero', 0],
      ['true', true],
      ['false', false],
      ['null', null],
      ['an array', [16, 17, 'x']],
      ['an object', { id: 0, protocols: [0x14], polling: true, name: 'a' }],
      ['nested empty ones', { a: [], b: {} }],
    ])('should write %s as JSON.stringify does', (_, value) => {
      expect(formatValue(value)).toBe(JSON.stringify(value));
    });
  });

  describe('given a value JSON cannot write, or would write as another one', () => {
    it.each<[string, unknown, string]>([
      ['a bigint', 1n, '1n'],
      ['a negative bigint', -42n, '-42n'],
      ['undefined', undefined, 'undefined'],
      ['NaN', Number.NaN, 'NaN'],
      ['Infinity', Infinity, 'Infinity'],
      ['-Infinity', -Infinity, '-Infinity'],
      ['-0', -0, '-0'],
      ['a symbol', Symbol('tag'), 'Symbol(tag)'],
      ['a symbol without description', Symbol(), 'Symbol()'],
      ['a named function', function probe() {}, '[Function: probe]'],
      [
        'an anonymous function',
        (
          () => () =>
            1
        )(),
        '[Function (anonymous)]',
      ],
      [
        'a class',
        class Wire {
          readonly id = 0;
        },
        '[Function: Wire]',
      ],
      ['a circular object', circular(), '{"id":1,"self":[Circular]}'],
      [
        'members JSON would drop',
        { a: undefined, b: 2n, c: Symbol('s') },
        '{"a":undefined,"b":2n,"c":Symbol(s)}',
      ],
      [
        'elements JSON would write as null',
        [undefined, Number.NaN, () => 1],
        '[undefined,NaN,[Function (anonymous)]]',
      ],
      // eslint-disable-next-line no-sparse-arrays
      ['an array with a hole', [1, , 2], '[1,<empty>,2]'],
      [
        'an object without a prototype',
        Object.assign(Object.create(null) as object, { a: 1 }),
        '{"a":1}',
      ],
      [
        'an instance of a class',
        new (class Wire {
          id = 3;
        })(),
        'Wire {"id":3}',
      ],
      ['a Date', new Date(0), 'Date(1970-01-01T00:00:00.000Z)'],
      ['an invalid Date', new Date(Number.NaN), 'Date(Invalid)'],
      ['an Error', new RangeError('too big'), '[RangeError: too big]'],
      [
        'a Map',
        new Map([
          [1, 2],
          [3, 4],
        ]),
        'Map(2)',
      ],
      ['a Set', new Set([1]), 'Set(1)'],
      ['a SharedArrayBuffer', new SharedArrayBuffer(64), 'SharedArrayBuffer(64 bytes)'],
      ['an ArrayBuffer', new ArrayBuffer(8), 'ArrayBuffer(8 bytes)'],
      ['a typed array', new Uint16Array(16), 'Uint16Array(16)'],
      ['a DataView', new DataView(new ArrayBuffer(4)), 'DataView(4 bytes)'],
      ['a deep object', { a: { b: { c: { d: 1 } } } }, '{"a":{"b":{"c":[Object]}}}'],
      ['a deep array', [[[[1]]]], '[[[[Array]]]]'],
    ])('should show %s for what it is', (_, value, shown) => {
      expect(formatValue(value)).toBe(shown);
    });

    it('should show a plain object of another realm as a plain object', () => {
      expect(formatValue(runInNewContext('({ id: 1n })'))).toBe('{"id":1n}');
    });

    it('should show an object met twice, but not inside itself, each time', () => {
      const shared = { id: 1 };
      expect(formatValue([shared, shared])).toBe('[{"id":1},{"id":1}]');
      const loop: unknown[] = [1];
      loop.push({ back: loop });
      expect(formatValue(loop)).toBe('[1,{"back":[Circular]}]');
    });
  });

  describe('given a value that throws when looked at', () => {
    it('should never throw, showing what it could not read', () => {
      const getter = {
        ok: 1,
        get bad(): never {
          throw new Error('getter');
        },
      };
      expect(formatValue(getter)).toBe('{"ok":1,"bad":<unreadable>}');
      const revocable = Proxy.revocable({}, {});
      revocable.revoke();
      expect(formatValue(revocable.proxy)).toBe('[unreadable object]');
      expect(formatValue({ inner: revocable.proxy })).toBe('{"inner":[unreadable object]}');
      const traps = new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error('ownKeys');
          },
        },
      );
      expect(formatValue(traps)).toBe('[unreadable object]');
      const nameTrap = new Proxy(function named() {}, {
        getOwnPropertyDescriptor: () => {
          throw new Error('descriptor');
        },
      });
      expect(formatValue(nameTrap)).toBe('[Function (anonymous)]');
      const toStringThrows = {
        toString: (): never => {
          throw new Error('toString');
        },
      };
      expect(formatValue(toStringThrows)).toBe('{"toString":[Function: toString]}');
      // What String() and JSON.stringify throw on.
      expect(formatValue(Object.create(null))).toBe('{}');
      expect(formatValue({ n: 1n })).toBe('{"n":1n}');
    });
  });

  describe('given a long value', () => {
    it('should cut the text at maxLength (100 by default), ending it with …', () => {
      const long = formatValue('x'.repeat(500));
      expect(long).toHaveLength(100);
      expect(long).toBe(`"${'x'.repeat(98)}…`);
      expect(formatValue('x'.repeat(98))).toBe(`"${'x'.repeat(98)}"`); // 100: not cut
      expect(formatValue('x'.repeat(99))).toBe(`"${'x'.repeat(98)}…`);
      expect(formatValue('abcdef', 4)).toBe('"ab…');
      expect(formatValue({ a: 1 }, 1)).toBe('…');
      expect(formatValue([1, 2, 3, 4, 5, 6, 7, 8], 10)).toBe('[1,2,3,4,…');
      expect(formatValue(Symbol('s'.repeat(200)))).toHaveLength(100);
    });

    it('should never cut between the halves of a surrogate pair', () => {
      expect(formatValue('😀😀😀', 4)).toBe('"😀…');
      expect(formatValue('😀😀😀', 3)).toBe('"…');
    });

    it('should stop walking a huge array or object once the text is long enough', () => {
      // Counted, not timed: every element or member it reads goes through a trap.
      let reads = 0;
      const counted = <T extends object>(target: T): T =>
        new Proxy(target, {
          get: (t, key, receiver): unknown => {
            if (key !== 'length') reads++;
            return Reflect.get(t, key, receiver);
          },
          has: (t, key): boolean => {
            reads++;
            return Reflect.has(t, key);
          },
        });
      expect(formatValue(counted(new Array<number>(2 ** 32 - 1)))).toHaveLength(100);
      expect(reads).toBeLessThan(100); // a hole reads once (`in`): `<empty>`, 8 bytes each
      reads = 0;
      const wide: Record<string, number> = {};
      for (let i = 0; i < 1000; i++) wide[`k${i}`] = i;
      expect(formatValue(counted(wide))).toMatch(/^\{"k0":0,"k1":1,.*…$/);
      expect(reads).toBeLessThan(100);
      expect(formatValue('y'.repeat(2 ** 24))).toBe(`"${'y'.repeat(98)}…`);
    });

    it('should take any maxLength without throwing: one under 1, or not a number, is 100', () => {
      const text = 'x'.repeat(500);
      for (const maxLength of [0, -5, Number.NaN, Infinity, '8' as unknown as number]) {
        expect(formatValue(text, maxLength)).toHaveLength(100);
      }
      expect(formatValue(text, 10.9)).toHaveLength(10);
    });
  });
});

describe(describeArg, () => {
  it('should name the type, then the value, and never throw (a revoked proxy included)', () => {
    expect(describeArg(1n)).toBe('bigint 1n');
    expect(describeArg('1')).toBe('string "1"');
    expect(describeArg([1])).toBe('array [1]');
    expect(describeArg(null)).toBe('null');
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeArg(proxy)).toBe('object [unreadable object]');
  });
});
