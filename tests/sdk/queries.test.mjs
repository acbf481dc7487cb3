// Query operators through the official Parse JS SDK (Parse.Query).
//
// Each describe block builds one small read-only dataset in freshly named
// classes (see query-helpers.mjs) and every test runs one query against it.
// Every test outside the 'beyond Parse Server on Postgres' blocks passes
// against a real Parse Server backed by PostgreSQL. Those blocks hold the
// documented Parse (MongoDB) semantics that Parse Server's Postgres adapter
// gets wrong; each test there says what the Postgres adapter does instead.
// Relations ($relatedTo), aggregate and distinct are covered elsewhere.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, expectParseError } from './helpers.mjs';
import { dataset, inOrder, names, saveRows } from './query-helpers.mjs';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('comparison operators', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQCmp');
    await saveRows(className, [
      { name: 'n1', n: 1, s: 'apple', flag: true },
      { name: 'n2', n: 2, s: 'banana', flag: false },
      { name: 'n3', n: 3, s: 'cherry', flag: true },
      { name: 'n4', n: 4, s: 'date' },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('equalTo matches a number', async () => {
    assert.deepEqual(names(await q().equalTo('n', 2).find()), ['n2']);
  });

  test('equalTo matches a boolean', async () => {
    assert.deepEqual(names(await q().equalTo('flag', true).find()), ['n1', 'n3']);
  });

  test('equalTo with an object of key/value pairs ANDs them', async () => {
    assert.deepEqual(names(await q().equalTo({ flag: true, n: 3 }).find()), ['n3']);
  });

  test('two constraints on different keys are ANDed', async () => {
    const results = await q().equalTo('flag', true).greaterThan('n', 1).find();
    assert.deepEqual(names(results), ['n3']);
  });

  test('notEqualTo excludes the value', async () => {
    assert.deepEqual(names(await q().notEqualTo('n', 2).find()), ['n1', 'n3', 'n4']);
  });

  test('greaterThan / lessThan are strict', async () => {
    assert.deepEqual(names(await q().greaterThan('n', 2).find()), ['n3', 'n4']);
    assert.deepEqual(names(await q().lessThan('n', 2).find()), ['n1']);
  });

  test('greaterThanOrEqualTo / lessThanOrEqualTo include the bound', async () => {
    assert.deepEqual(names(await q().greaterThanOrEqualTo('n', 3).find()), ['n3', 'n4']);
    assert.deepEqual(names(await q().lessThanOrEqualTo('n', 2).find()), ['n1', 'n2']);
  });

  test('a range combines greaterThan and lessThan on one key', async () => {
    const results = await q().greaterThan('n', 1).lessThan('n', 4).find();
    assert.deepEqual(names(results), ['n2', 'n3']);
  });

  test('comparisons on strings are lexicographic', async () => {
    assert.deepEqual(names(await q().greaterThan('s', 'banana').find()), ['n3', 'n4']);
  });

  test('containedIn / notContainedIn on a scalar field', async () => {
    assert.deepEqual(names(await q().containedIn('n', [1, 3, 99]).find()), ['n1', 'n3']);
    assert.deepEqual(names(await q().notContainedIn('n', [1, 3]).find()), ['n2', 'n4']);
  });

  test('notEqualTo on a scalar matches objects without the field', async () => {
    // n4 has no 'flag' at all.
    assert.deepEqual(names(await q().notEqualTo('flag', true).find()), ['n2', 'n4']);
  });

  test('containedIn with an empty list matches nothing', async () => {
    assert.deepEqual(await q().containedIn('n', []).find(), []);
  });

  test('equalTo on objectId finds one object', async () => {
    const n2 = await q().equalTo('name', 'n2').first();
    assert.deepEqual(names(await q().equalTo('objectId', n2.id).find()), ['n2']);
  });
});

describe('exists / doesNotExist', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQExists');
    await saveRows(className, [
      { name: 'text', s: 'x' },
      { name: 'emptyString', s: '' },
      { name: 'zero', n: 0 },
      { name: 'false', b: false },
      { name: 'emptyArray', a: [] },
      { name: 'bare' },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('exists matches objects holding the key, even with a falsy value', async () => {
    assert.deepEqual(names(await q().exists('s').find()), ['emptyString', 'text']);
    assert.deepEqual(names(await q().exists('n').find()), ['zero']);
    assert.deepEqual(names(await q().exists('b').find()), ['false']);
    assert.deepEqual(names(await q().exists('a').find()), ['emptyArray']);
  });

  test('doesNotExist matches objects without the key', async () => {
    const results = await q().doesNotExist('s').find();
    assert.deepEqual(names(results), ['bare', 'emptyArray', 'false', 'zero']);
  });

  test('equalTo(key, undefined) means doesNotExist', async () => {
    assert.deepEqual(names(await q().equalTo('n', undefined).find()), [
      'bare',
      'emptyArray',
      'emptyString',
      'false',
      'text',
    ]);
  });

  test('doesNotExist on a key the class has never had matches everything', async () => {
    assert.equal((await q().doesNotExist('neverSeen').find()).length, 6);
  });

  test('exists on a key the class has never had matches nothing', async () => {
    assert.deepEqual(await q().exists('neverSeen').find(), []);
  });
});

describe('array operators', () => {
  const ds = dataset(async (newClass) => {
    const targetClass = newClass('SdkQArrTarget');
    const className = newClass('SdkQArr');
    const targets = await saveRows(targetClass, [{ name: 't1' }, { name: 't2' }]);
    const objects = await saveRows(className, [
      { name: 'rg', tags: ['red', 'green'], nums: [1, 2, 3], refs: [targets.t1] },
      { name: 'gb', tags: ['green', 'blue'], nums: [3, 4], refs: [targets.t1, targets.t2] },
      { name: 'r', tags: ['red'], nums: [5], refs: [targets.t2] },
      { name: 'empty', tags: [], nums: [], refs: [] },
    ]);
    return { className, targets, objects };
  });
  const q = () => new Parse.Query(ds.className);

  test('equalTo with a pointer matches arrays of pointers that contain it', async () => {
    assert.deepEqual(names(await q().equalTo('refs', ds.targets.t2).find()), ['gb', 'r']);
  });

  test('containsAll requires every listed element', async () => {
    assert.deepEqual(names(await q().containsAll('tags', ['red', 'green']).find()), ['rg']);
    assert.deepEqual(names(await q().containsAll('tags', ['green']).find()), ['gb', 'rg']);
    assert.deepEqual(names(await q().containsAll('nums', [3]).find()), ['gb', 'rg']);
  });

  test('containsAll with elements no array has matches nothing', async () => {
    assert.deepEqual(await q().containsAll('tags', ['red', 'purple']).find(), []);
  });

  test('containsAllStartingWith matches every prefix against some element', async () => {
    const results = await q().containsAllStartingWith('tags', ['gr', 'bl']).find();
    assert.deepEqual(names(results), ['gb']);
  });

  test('containedIn on an array field matches arrays sharing any element', async () => {
    assert.deepEqual(names(await q().containedIn('tags', ['blue', 'red']).find()), [
      'gb',
      'r',
      'rg',
    ]);
    assert.deepEqual(names(await q().containedIn('nums', [4, 5]).find()), ['gb', 'r']);
  });

  test('notContainedIn on an array field excludes arrays sharing any element', async () => {
    assert.deepEqual(names(await q().notContainedIn('tags', ['red']).find()), ['empty', 'gb']);
    assert.deepEqual(names(await q().notContainedIn('nums', [3]).find()), ['empty', 'r']);
  });

  test('notEqualTo with a scalar excludes arrays containing it', async () => {
    assert.deepEqual(names(await q().notEqualTo('tags', 'red').find()), ['empty', 'gb']);
  });

  test('containedBy matches arrays whose elements all lie in the list (empty too)', async () => {
    const results = await q().containedBy('nums', [1, 2, 3, 4]).find();
    assert.deepEqual(names(results), ['empty', 'gb', 'rg']);
    assert.deepEqual(names(await q().containedBy('tags', ['red']).find()), ['empty', 'r']);
  });
});

describe('string operators', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQStr');
    await saveRows(className, [
      { name: 'dot', s: 'a.c' },
      { name: 'abc', s: 'abc' },
      { name: 'star', s: 'a*c (x)' },
      { name: 'dollar', s: 'costs $5+tax [approx]' },
      { name: 'hello', s: 'Hello World' },
      { name: 'hello2', s: 'say hello there' },
      { name: 'lines', s: 'line one\nline two' },
      { name: 'quote', s: "it's" },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('startsWith matches a literal prefix', async () => {
    assert.deepEqual(names(await q().startsWith('s', 'a').find()), ['abc', 'dot', 'star']);
  });

  test('startsWith treats regex metacharacters literally', async () => {
    assert.deepEqual(names(await q().startsWith('s', 'a.').find()), ['dot']);
    assert.deepEqual(names(await q().startsWith('s', 'a*').find()), ['star']);
  });

  test('endsWith treats regex metacharacters literally', async () => {
    assert.deepEqual(names(await q().endsWith('s', '(x)').find()), ['star']);
    assert.deepEqual(names(await q().endsWith('s', '.c').find()), ['dot']);
    assert.deepEqual(names(await q().endsWith('s', '[approx]').find()), ['dollar']);
  });

  test('contains treats regex metacharacters literally', async () => {
    assert.deepEqual(names(await q().contains('s', '.').find()), ['dot']);
    assert.deepEqual(names(await q().contains('s', '*c (').find()), ['star']);
    assert.deepEqual(names(await q().contains('s', '$5+').find()), ['dollar']);
    assert.deepEqual(names(await q().contains('s', "t's").find()), ['quote']);
  });

  test('contains is case-sensitive', async () => {
    assert.deepEqual(names(await q().contains('s', 'hello').find()), ['hello2']);
  });

  test('startsWith with the i modifier ignores case', async () => {
    assert.deepEqual(names(await q().startsWith('s', 'HELLO', 'i').find()), ['hello']);
  });

  test('matches a regex string', async () => {
    assert.deepEqual(names(await q().matches('s', '^a.c$').find()), ['abc', 'dot']);
  });

  test('matches a JavaScript RegExp, taking the i flag from it', async () => {
    assert.deepEqual(names(await q().matches('s', /hello/i).find()), ['hello', 'hello2']);
  });

  test('matches with the i modifier ignores case', async () => {
    assert.deepEqual(names(await q().matches('s', 'WORLD', 'i').find()), ['hello']);
  });

  test('matches with the x modifier ignores whitespace in the pattern', async () => {
    assert.deepEqual(names(await q().matches('s', 'Hel lo\\s W', 'x').find()), ['hello']);
  });

  test('matches without the m modifier anchors ^ at the start of the string', async () => {
    assert.deepEqual(await q().matches('s', '^line two').find(), []);
  });

  test('matches with the s modifier lets . match a newline', async () => {
    assert.deepEqual(names(await q().matches('s', 'one.line', 's').find()), ['lines']);
  });

  test('matches without a modifier is case-sensitive', async () => {
    assert.deepEqual(await q().matches('s', '^hello world').find(), []);
  });
});

describe('fullText', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQText');
    await saveRows(className, [
      { name: 'runs', text: 'The dog runs in the park' },
      { name: 'running', text: 'Running every morning keeps you fit' },
      { name: 'cat', text: 'A cat sleeps all day' },
      { name: 'es', text: 'El perro está corriendo' },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('fullText matches stemmed words', async () => {
    assert.deepEqual(names(await q().fullText('text', 'run').find()), ['running', 'runs']);
  });

  test('fullText ignores case', async () => {
    assert.deepEqual(names(await q().fullText('text', 'CAT').find()), ['cat']);
  });

  test('fullText with no matching word matches nothing', async () => {
    assert.deepEqual(await q().fullText('text', 'elephant').find(), []);
  });

  test('fullText with the language option stems in that language', async () => {
    const spanish = await q().fullText('text', 'correr', { language: 'spanish' }).find();
    assert.deepEqual(names(spanish), ['es']);
    const english = await q().fullText('text', 'correr', { language: 'english' }).find();
    assert.deepEqual(english, []);
  });

  test('sortByTextScore returns a numeric score per object', async () => {
    // sortByTextScore selects only $score; select name as well to tell them apart.
    const results = await q().fullText('text', 'run').sortByTextScore().select('name').find();
    assert.deepEqual(names(results), ['running', 'runs']);
    for (const obj of results) {
      assert.equal(typeof obj.get('score'), 'number');
    }
  });
});

describe('geo queries', () => {
  const SF = new Parse.GeoPoint(37.7749, -122.4194);
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQGeo');
    const areaClass = newClass('SdkQArea');
    // Great-circle distances from San Francisco: Oakland ~13 km, San Jose
    // ~68 km, Sacramento ~121 km (~75 mi), Los Angeles ~559 km, New York
    // ~4130 km. Rows are saved out of distance order on purpose.
    await saveRows(className, [
      { name: 'la', at: new Parse.GeoPoint(34.0522, -118.2437) },
      { name: 'nyc', at: new Parse.GeoPoint(40.7128, -74.006) },
      { name: 'sj', at: new Parse.GeoPoint(37.3382, -121.8863) },
      { name: 'sf', at: SF },
      { name: 'sac', at: new Parse.GeoPoint(38.5816, -121.4944) },
      { name: 'oak', at: new Parse.GeoPoint(37.8044, -122.2712) },
    ]);
    // Parse.Polygon coordinates are [latitude, longitude] pairs.
    await saveRows(areaClass, [
      { name: 'unit', area: new Parse.Polygon([[0, 0], [0, 1], [1, 1], [1, 0]]) },
      { name: 'big', area: new Parse.Polygon([[0, 0], [0, 10], [10, 10], [10, 0]]) },
      { name: 'far', area: new Parse.Polygon([[50, 50], [50, 51], [51, 51]]) },
    ]);
    return { className, areaClass };
  });
  const q = () => new Parse.Query(ds.className);

  test('near returns every point, nearest first', async () => {
    const results = await q().near('at', SF).find();
    assert.deepEqual(inOrder(results), ['sf', 'oak', 'sj', 'sac', 'la', 'nyc']);
  });

  test('near combined with limit returns the nearest points', async () => {
    assert.deepEqual(inOrder(await q().near('at', SF).limit(2).find()), ['sf', 'oak']);
  });

  test('withinKilometers returns the points within range, nearest first', async () => {
    const results = await q().withinKilometers('at', SF, 100).find();
    assert.deepEqual(inOrder(results), ['sf', 'oak', 'sj']);
  });

  test('withinMiles returns the points within range, nearest first', async () => {
    const results = await q().withinMiles('at', SF, 100).find();
    assert.deepEqual(inOrder(results), ['sf', 'oak', 'sj', 'sac']);
  });

  test('withinRadians returns the points within range, nearest first', async () => {
    // 0.1 rad is ~637 km.
    const results = await q().withinRadians('at', SF, 0.1).find();
    assert.deepEqual(inOrder(results), ['sf', 'oak', 'sj', 'sac', 'la']);
  });

  test('withinKilometers unsorted ($geoWithin $centerSphere) finds the same points', async () => {
    const results = await q().withinKilometers('at', SF, 100, false).find();
    assert.deepEqual(names(results), ['oak', 'sf', 'sj']);
  });

  test('$centerSphere in REST form with a GeoPoint centre', async () => {
    const query = Parse.Query.fromJSON(ds.className, {
      where: {
        at: {
          $geoWithin: {
            $centerSphere: [{ __type: 'GeoPoint', latitude: 37.7749, longitude: -122.4194 }, 0.02],
          },
        },
      },
    });
    // 0.02 rad is ~127 km.
    assert.deepEqual(names(await query.find()), ['oak', 'sac', 'sf', 'sj']);
  });

  test('a distance query can be combined with limit', async () => {
    const results = await q().withinKilometers('at', SF, 1000).limit(2).find();
    assert.deepEqual(inOrder(results), ['sf', 'oak']);
  });

  test('withinGeoBox returns the points inside the box', async () => {
    const results = await q()
      .withinGeoBox('at', new Parse.GeoPoint(37, -123), new Parse.GeoPoint(38, -121.5))
      .find();
    assert.deepEqual(names(results), ['oak', 'sf', 'sj']);
  });

  test('withinPolygon returns the points inside the polygon', async () => {
    const results = await q()
      .withinPolygon('at', [
        new Parse.GeoPoint(37, -123),
        new Parse.GeoPoint(39, -123),
        new Parse.GeoPoint(39, -121),
        new Parse.GeoPoint(37, -121),
      ])
      .find();
    assert.deepEqual(names(results), ['oak', 'sac', 'sf', 'sj']);
  });

  test('polygonContains returns the polygons containing the point', async () => {
    const areas = () => new Parse.Query(ds.areaClass);
    const inBoth = await areas().polygonContains('area', new Parse.GeoPoint(0.5, 0.5)).find();
    assert.deepEqual(names(inBoth), ['big', 'unit']);
    const inBig = await areas().polygonContains('area', new Parse.GeoPoint(5, 5)).find();
    assert.deepEqual(names(inBig), ['big']);
    const inNone = await areas().polygonContains('area', new Parse.GeoPoint(-20, -20)).find();
    assert.deepEqual(inNone, []);
  });
});

describe('date comparisons', () => {
  const D2020 = new Date('2020-01-01T00:00:00.000Z');
  const D2021 = new Date('2021-06-15T12:00:00.000Z');
  const D2023 = new Date('2023-03-03T03:03:03.333Z');
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQDate');
    const now = Date.now();
    const objects = await saveRows(className, [
      { name: 'd2020', when: D2020, n: 1 },
      { name: 'd2021', when: D2021, n: 2 },
      { name: 'd2023', when: D2023, n: 3 },
      { name: 'past', when: new Date(now - 2 * DAY_MS), n: 4 },
      { name: 'future', when: new Date(now + 2 * DAY_MS), n: 5 },
    ]);
    return { className, objects };
  });
  const q = () => new Parse.Query(ds.className);

  test('equalTo matches a Date to the millisecond', async () => {
    assert.deepEqual(names(await q().equalTo('when', D2023).find()), ['d2023']);
    assert.deepEqual(await q().equalTo('when', new Date(D2023.getTime() + 1)).find(), []);
  });

  test('greaterThan on a Date is strict', async () => {
    const results = await q().greaterThan('when', D2021).find();
    assert.deepEqual(names(results), ['d2023', 'future', 'past']);
  });

  test('lessThanOrEqualTo on a Date includes the bound', async () => {
    const results = await q().lessThanOrEqualTo('when', D2021).find();
    assert.deepEqual(names(results), ['d2020', 'd2021']);
  });

  test('a Date range between two bounds', async () => {
    const results = await q()
      .greaterThanOrEqualTo('when', D2021)
      .lessThan('when', new Date(D2023.getTime() + 1))
      .find();
    assert.deepEqual(names(results), ['d2021', 'd2023']);
  });

  test('createdAt can be compared with a Date', async () => {
    const oldest = Math.min(...Object.values(ds.objects).map((o) => o.createdAt.getTime()));
    const since = await q().greaterThanOrEqualTo('createdAt', new Date(oldest)).find();
    assert.equal(since.length, 5);
    assert.deepEqual(await q().lessThan('createdAt', D2020).find(), []);
  });

  // The SDK has no relative-time helpers (there is no
  // greaterThanRelativeTime); the value {$relativeTime: '...'} is passed
  // through greaterThan / lessThan and parsed by the server.
  test('$relativeTime "3 days ago" as a lower bound', async () => {
    const results = await q().greaterThan('when', { $relativeTime: '3 days ago' }).find();
    assert.deepEqual(names(results), ['future', 'past']);
  });

  test('$relativeTime "in 1 day" as an upper bound', async () => {
    const results = await q().lessThan('when', { $relativeTime: 'in 1 day' }).find();
    assert.deepEqual(names(results), ['d2020', 'd2021', 'd2023', 'past']);
  });

  test('$relativeTime bounds on both sides, with abbreviated units', async () => {
    const results = await q()
      .greaterThanOrEqualTo('when', { $relativeTime: '1 wk ago' })
      .lessThanOrEqualTo('when', { $relativeTime: 'in 12 hrs' })
      .find();
    assert.deepEqual(names(results), ['past']);
  });

  test('$relativeTime "now"', async () => {
    const results = await q().greaterThan('when', { $relativeTime: 'now' }).find();
    assert.deepEqual(names(results), ['future']);
  });

  test('$relativeTime with several units', async () => {
    const results = await q()
      .greaterThan('when', { $relativeTime: '1 day 12 hours ago' })
      .find();
    assert.deepEqual(names(results), ['future']);
  });

  test('$relativeTime with notEqualTo is rejected with INVALID_JSON', async () => {
    await expectParseError(
      q().notEqualTo('when', { $relativeTime: '1 day ago' }).find(),
      Parse.Error.INVALID_JSON,
    );
  });

  test('$relativeTime without "in" or "ago" is rejected with INVALID_JSON', async () => {
    await expectParseError(
      q().greaterThan('when', { $relativeTime: '3 days' }).find(),
      Parse.Error.INVALID_JSON,
    );
  });

  test('$relativeTime with an unknown unit is rejected with INVALID_JSON', async () => {
    await expectParseError(
      q().greaterThan('when', { $relativeTime: '3 fortnights ago' }).find(),
      Parse.Error.INVALID_JSON,
    );
  });

  test('$relativeTime on a non-Date field is rejected with INVALID_JSON', async () => {
    await expectParseError(
      q().greaterThan('n', { $relativeTime: '3 days ago' }).find(),
      Parse.Error.INVALID_JSON,
    );
  });
});

describe('or / and / nor', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQLogic');
    await saveRows(className, [
      { name: 'a1', n: 1, color: 'red' },
      { name: 'a2', n: 2, color: 'blue' },
      { name: 'a3', n: 3, color: 'red' },
      { name: 'a4', n: 4, color: 'green' },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('Parse.Query.or matches objects matching any subquery', async () => {
    const results = await Parse.Query.or(q().equalTo('n', 1), q().equalTo('color', 'green')).find();
    assert.deepEqual(names(results), ['a1', 'a4']);
  });

  test('Parse.Query.and matches objects matching every subquery', async () => {
    const results = await Parse.Query.and(
      q().equalTo('color', 'red'),
      q().greaterThan('n', 1),
    ).find();
    assert.deepEqual(names(results), ['a3']);
  });

  test('Parse.Query.and allows two constraints of one kind on one key', async () => {
    const results = await Parse.Query.and(
      q().notEqualTo('color', 'red'),
      q().notEqualTo('color', 'green'),
    ).find();
    assert.deepEqual(names(results), ['a2']);
  });

  test('Parse.Query.nor matches objects matching no subquery', async () => {
    const results = await Parse.Query.nor(q().equalTo('n', 1), q().equalTo('color', 'blue')).find();
    assert.deepEqual(names(results), ['a3', 'a4']);
  });

  test('an or query combined with a top-level constraint', async () => {
    const query = Parse.Query.or(q().equalTo('n', 1), q().equalTo('n', 2), q().equalTo('n', 3));
    query.equalTo('color', 'red');
    assert.deepEqual(names(await query.find()), ['a1', 'a3']);
  });

  test('or nested inside and', async () => {
    const either = Parse.Query.or(q().equalTo('color', 'red'), q().equalTo('color', 'green'));
    const results = await Parse.Query.and(either, q().greaterThan('n', 2)).find();
    assert.deepEqual(names(results), ['a3', 'a4']);
  });

  test('an or query can be sorted and limited', async () => {
    const query = Parse.Query.or(q().equalTo('color', 'red'), q().equalTo('color', 'green'));
    const results = await query.descending('n').limit(2).find();
    assert.deepEqual(inOrder(results), ['a4', 'a3']);
  });
});

describe('pointer subqueries and include', () => {
  const ds = dataset(async (newClass) => {
    const publisherClass = newClass('SdkQPub');
    const authorClass = newClass('SdkQAuthor');
    const bookClass = newClass('SdkQBook');
    const publishers = await saveRows(publisherClass, [
      { name: 'penguin', city: 'London' },
      { name: 'knopf', city: 'New York' },
    ]);
    const authors = await saveRows(authorClass, [
      { name: 'austen', country: 'UK', publisher: publishers.penguin },
      { name: 'twain', country: 'US', publisher: publishers.knopf },
      { name: 'orwell', country: 'UK', publisher: publishers.penguin },
    ]);
    const books = await saveRows(bookClass, [
      { name: 'emma', author: authors.austen, authorName: 'austen', year: 1815 },
      { name: 'persuasion', author: authors.austen, authorName: 'austen', year: 1817 },
      { name: 'sawyer', author: authors.twain, authorName: 'twain', year: 1876 },
      { name: '1984', author: authors.orwell, authorName: 'orwell', year: 1949 },
      { name: 'anon', authorName: 'nobody', year: 1900 },
    ]);
    return { publisherClass, authorClass, bookClass, publishers, authors, books };
  });
  const books = () => new Parse.Query(ds.bookClass);
  const authors = () => new Parse.Query(ds.authorClass);

  test('equalTo with a Parse.Object matches the pointer', async () => {
    const results = await books().equalTo('author', ds.authors.austen).find();
    assert.deepEqual(names(results), ['emma', 'persuasion']);
  });

  test('notEqualTo with a Parse.Object excludes the pointer, keeping objects without it', async () => {
    const results = await books().notEqualTo('author', ds.authors.austen).find();
    assert.deepEqual(names(results), ['1984', 'anon', 'sawyer']);
  });

  test('containedIn with Parse.Objects matches any of the pointers', async () => {
    const results = await books()
      .containedIn('author', [ds.authors.twain, ds.authors.orwell])
      .find();
    assert.deepEqual(names(results), ['1984', 'sawyer']);
  });

  test('matchesQuery matches pointers to objects the subquery finds', async () => {
    const results = await books().matchesQuery('author', authors().equalTo('country', 'UK')).find();
    assert.deepEqual(names(results), ['1984', 'emma', 'persuasion']);
  });

  test('matchesQuery nests through two pointers', async () => {
    const inNewYork = new Parse.Query(ds.publisherClass).equalTo('city', 'New York');
    const results = await books()
      .matchesQuery('author', authors().matchesQuery('publisher', inNewYork))
      .find();
    assert.deepEqual(names(results), ['sawyer']);
  });

  test('doesNotMatchQuery excludes pointers to objects the subquery finds', async () => {
    const results = await books()
      .exists('author')
      .doesNotMatchQuery('author', authors().equalTo('country', 'UK'))
      .find();
    assert.deepEqual(names(results), ['sawyer']);
  });

  test('matchesKeyInQuery matches a key against values from another query', async () => {
    const results = await books()
      .matchesKeyInQuery('authorName', 'name', authors().equalTo('country', 'UK'))
      .find();
    assert.deepEqual(names(results), ['1984', 'emma', 'persuasion']);
  });

  test('doesNotMatchKeyInQuery excludes values from another query', async () => {
    const results = await books()
      .doesNotMatchKeyInQuery('authorName', 'name', authors().equalTo('country', 'UK'))
      .find();
    assert.deepEqual(names(results), ['anon', 'sawyer']);
  });

  test('without include a pointer comes back as an unfetched Parse.Object', async () => {
    const emma = await books().equalTo('name', 'emma').first();
    const author = emma.get('author');
    assert.ok(author instanceof Parse.Object);
    assert.equal(author.className, ds.authorClass);
    assert.equal(author.id, ds.authors.austen.id);
    assert.equal(author.isDataAvailable(), false);
  });

  test('include fetches the pointed-at object', async () => {
    const emma = await books().equalTo('name', 'emma').include('author').first();
    const author = emma.get('author');
    assert.equal(author.isDataAvailable(), true);
    assert.equal(author.get('country'), 'UK');
    // One level only: the author's own pointer stays unfetched.
    assert.equal(author.get('publisher').isDataAvailable(), false);
  });

  test('include with a dotted path fetches every object along it', async () => {
    const sawyer = await books().equalTo('name', 'sawyer').include('author.publisher').first();
    const publisher = sawyer.get('author').get('publisher');
    assert.equal(sawyer.get('author').get('country'), 'US');
    assert.equal(publisher.get('city'), 'New York');
  });

  test('include tolerates objects whose pointer is missing', async () => {
    const results = await books().include('author').ascending('year').find();
    assert.equal(results.length, 5);
    assert.equal(results.find((b) => b.get('name') === 'anon').get('author'), undefined);
  });

  test("include('*') fetches every pointer one level deep", async () => {
    const emma = await books().equalTo('name', 'emma').include('*').first();
    assert.equal(emma.get('author').get('country'), 'UK');
    assert.equal(emma.get('author').get('publisher').isDataAvailable(), false);
  });

  test('includeAll is the same as include("*")', async () => {
    const emma = await books().equalTo('name', 'emma').includeAll().first();
    assert.equal(emma.get('author').get('country'), 'UK');
  });

  test('select with a dotted key narrows an included object', async () => {
    const emma = await books()
      .equalTo('name', 'emma')
      .include('author')
      .select('name', 'author.name')
      .first();
    assert.equal(emma.get('name'), 'emma');
    assert.equal(emma.get('year'), undefined);
    const author = emma.get('author');
    assert.equal(author.get('name'), 'austen');
    assert.equal(author.get('country'), undefined);
  });

  test('exclude with a dotted key drops a field of an included object', async () => {
    const emma = await books()
      .equalTo('name', 'emma')
      .include('author')
      .exclude('author.country')
      .first();
    assert.equal(emma.get('year'), 1815);
    assert.equal(emma.get('author').get('name'), 'austen');
    assert.equal(emma.get('author').get('country'), undefined);
  });
});

describe('Object fields and dotted keys', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQDot');
    await saveRows(className, [
      { name: 'one', o: { a: 1, s: 'x', inner: { c: 'deep' } }, other: 'p' },
      { name: 'two', o: { a: 2, s: 'y', inner: { c: 'shallow' } }, other: 'q' },
      { name: 'three', o: { a: 3, s: 'x.y' }, other: 'r' },
    ]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('equalTo on a dotted key matches a number inside an Object field', async () => {
    assert.deepEqual(names(await q().equalTo('o.a', 1).find()), ['one']);
  });

  test('equalTo on a dotted key matches a string inside an Object field', async () => {
    assert.deepEqual(names(await q().equalTo('o.s', 'x').find()), ['one']);
  });

  test('equalTo on a two-level dotted key', async () => {
    assert.deepEqual(names(await q().equalTo('o.inner.c', 'deep').find()), ['one']);
  });

  test('greaterThan on a dotted key compares numbers', async () => {
    assert.deepEqual(names(await q().greaterThan('o.a', 1).find()), ['three', 'two']);
  });

  test('notEqualTo on a dotted key', async () => {
    assert.deepEqual(names(await q().notEqualTo('o.a', 2).find()), ['one', 'three']);
  });

  test('startsWith on a dotted key', async () => {
    assert.deepEqual(names(await q().startsWith('o.s', 'x.').find()), ['three']);
  });

  // Surprise: Parse Server cuts every selected key down to its first path
  // component before querying the database, so select('o.a') returns the
  // whole Object field 'o' (on MongoDB and Postgres alike). Dotted select
  // keys only narrow included pointers (see 'pointer subqueries and include').
  test('select with a dotted key returns the whole top-level Object field', async () => {
    const one = await q().equalTo('name', 'one').select('o.a').first();
    assert.deepEqual(one.get('o'), { a: 1, s: 'x', inner: { c: 'deep' } });
    assert.equal(one.get('other'), undefined);
    assert.equal(one.get('name'), undefined);
  });

  test('select of two keys, one dotted, returns both top-level fields', async () => {
    const two = await q().equalTo('name', 'two').select('name', 'o.inner').first();
    assert.equal(two.get('name'), 'two');
    assert.deepEqual(two.get('o'), { a: 2, s: 'y', inner: { c: 'shallow' } });
    assert.equal(two.get('other'), undefined);
  });
});

describe('select / exclude', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQKeys');
    await saveRows(className, [{ name: 'only', a: 1, b: 'two', c: [3] }]);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('select returns only the chosen keys plus objectId and timestamps', async () => {
    const obj = await q().select('a', 'c').first();
    assert.equal(obj.get('a'), 1);
    assert.deepEqual(obj.get('c'), [3]);
    assert.equal(obj.get('b'), undefined);
    assert.equal(obj.get('name'), undefined);
    assert.ok(obj.id);
    assert.ok(obj.createdAt instanceof Date);
    assert.ok(obj.updatedAt instanceof Date);
  });

  test('select accepts an array of keys', async () => {
    const obj = await q().select(['b']).first();
    assert.equal(obj.get('b'), 'two');
    assert.equal(obj.get('a'), undefined);
  });

  test('select of a key no object has returns objects without fields', async () => {
    const obj = await q().select('nope').first();
    assert.ok(obj.id);
    assert.equal(obj.get('a'), undefined);
  });

  test('exclude drops the chosen keys and keeps the rest', async () => {
    const obj = await q().exclude('a', 'name').first();
    assert.equal(obj.get('a'), undefined);
    assert.equal(obj.get('name'), undefined);
    assert.equal(obj.get('b'), 'two');
    assert.deepEqual(obj.get('c'), [3]);
  });

  test('exclude takes precedence over select', async () => {
    const obj = await q().select('a', 'b').exclude('a').first();
    assert.equal(obj.get('a'), undefined);
    assert.equal(obj.get('b'), 'two');
    assert.equal(obj.get('c'), undefined);
  });
});

describe('ordering, paging and counting', () => {
  const ds = dataset(async (newClass) => {
    const className = newClass('SdkQOrder');
    const rows = [];
    // group: a a a b b b c c c d ; n descending within the class order.
    for (let i = 0; i < 10; i += 1) {
      rows.push({ name: `o${i}`, group: 'abcd'[Math.floor(i / 3)], n: 10 - i, parity: i % 2 });
    }
    await saveRows(className, rows);
    return { className };
  });
  const q = () => new Parse.Query(ds.className);

  test('ascending sorts by one key', async () => {
    const results = await q().ascending('n').find();
    assert.deepEqual(inOrder(results), ['o9', 'o8', 'o7', 'o6', 'o5', 'o4', 'o3', 'o2', 'o1', 'o0']);
  });

  test('descending sorts by one key', async () => {
    const results = await q().descending('n').limit(3).find();
    assert.deepEqual(inOrder(results), ['o0', 'o1', 'o2']);
  });

  test('ascending then addDescending sorts by two keys', async () => {
    const results = await q().ascending('group').addDescending('name').find();
    assert.deepEqual(inOrder(results), ['o2', 'o1', 'o0', 'o5', 'o4', 'o3', 'o8', 'o7', 'o6', 'o9']);
  });

  test('ascending with several keys sorts by each in turn', async () => {
    const results = await q().ascending('parity', 'n').find();
    assert.deepEqual(inOrder(results), ['o8', 'o6', 'o4', 'o2', 'o0', 'o9', 'o7', 'o5', 'o3', 'o1']);
  });

  test('descending with several keys sorts by each in turn', async () => {
    const results = await q().descending('parity', 'n').find();
    assert.deepEqual(inOrder(results), ['o1', 'o3', 'o5', 'o7', 'o9', 'o0', 'o2', 'o4', 'o6', 'o8']);
  });

  test('addAscending after descending keeps the first key', async () => {
    const results = await q().descending('group').addAscending('n').limit(4).find();
    assert.deepEqual(inOrder(results), ['o9', 'o8', 'o7', 'o6']);
  });

  test('skip and limit page through a sorted result', async () => {
    const page = await q().ascending('name').skip(3).limit(4).find();
    assert.deepEqual(inOrder(page), ['o3', 'o4', 'o5', 'o6']);
  });

  test('skip past the end returns no objects', async () => {
    assert.deepEqual(await q().skip(50).find(), []);
  });

  test('limit(0) returns no objects', async () => {
    assert.deepEqual(await q().limit(0).find(), []);
  });

  test('count returns the number of matches, ignoring limit and skip', async () => {
    assert.equal(await q().count(), 10);
    assert.equal(await q().equalTo('group', 'a').count(), 3);
    assert.equal(await q().limit(2).skip(1).count(), 10);
    assert.equal(await q().equalTo('group', 'z').count(), 0);
  });

  test('withCount returns results and the total count', async () => {
    const response = await q().ascending('name').limit(2).skip(1).withCount().find();
    assert.deepEqual(Object.keys(response).sort(), ['count', 'results']);
    assert.equal(response.count, 10);
    assert.deepEqual(inOrder(response.results), ['o1', 'o2']);
  });

  test('withCount(false) returns a plain array', async () => {
    const response = await q().limit(1).withCount(false).find();
    assert.ok(Array.isArray(response));
  });

  test('first returns the first object of the sort', async () => {
    const obj = await q().descending('n').first();
    assert.equal(obj.get('name'), 'o0');
  });

  test('first returns undefined when nothing matches', async () => {
    assert.equal(await q().equalTo('group', 'z').first(), undefined);
  });

  test('get returns the object with that id', async () => {
    const o4 = await q().equalTo('name', 'o4').first();
    const got = await q().get(o4.id);
    assert.equal(got.get('n'), 6);
  });

  test('get with an unknown id fails with OBJECT_NOT_FOUND', async () => {
    await expectParseError(q().get('xxxxxxxxxx'), Parse.Error.OBJECT_NOT_FOUND);
  });

  test('each visits every matching object once', async () => {
    const seen = [];
    await q().equalTo('parity', 0).each((obj) => {
      seen.push(obj.get('name'));
    });
    assert.deepEqual(seen.sort(), ['o0', 'o2', 'o4', 'o6', 'o8']);
  });

  test('eachBatch hands over batches of batchSize objects', async () => {
    const sizes = [];
    const seen = [];
    await q().eachBatch(
      (batch) => {
        sizes.push(batch.length);
        seen.push(...batch.map((o) => o.get('name')));
      },
      { batchSize: 3 },
    );
    assert.deepEqual(sizes, [3, 3, 3, 1]);
    assert.equal(new Set(seen).size, 10);
  });

  test('findAll returns every object across batches', async () => {
    const all = await q().findAll({ batchSize: 4 });
    assert.equal(all.length, 10);
  });

  test('each refuses a query with a sort, skip or limit', async () => {
    await assert.rejects(q().ascending('n').each(() => {}));
    await assert.rejects(q().limit(3).each(() => {}));
  });
});

// Documented Parse semantics (what Parse Server does on MongoDB) that Parse
// Server 9 on PostgreSQL gets wrong. These tests are EXPECTED TO FAIL against
// a Postgres-backed Parse Server; Parsnip must pass them. Each block says what
// the Postgres adapter does instead.
describe('beyond Parse Server on Postgres', () => {
  describe('equalTo on array fields', () => {
    // Parse (and Parse Server on MongoDB) treats equalTo on an array field as
    // "the array contains this value". Parse Server's Postgres adapter compares
    // the jsonb column with a scalar and fails with an internal error (500).
    const ds = dataset(async (newClass) => {
      const className = newClass('SdkQArrBeyond');
      await saveRows(className, [
        { name: 'rg', tags: ['red', 'green'], nums: [1, 2, 3] },
        { name: 'gb', tags: ['green', 'blue'], nums: [3, 4] },
        { name: 'r', tags: ['red'], nums: [5] },
      ]);
      return { className };
    });
    const q = () => new Parse.Query(ds.className);

    test('equalTo with a string matches arrays containing it', async () => {
      assert.deepEqual(names(await q().equalTo('tags', 'red').find()), ['r', 'rg']);
    });

    test('equalTo with a number matches arrays containing it', async () => {
      assert.deepEqual(names(await q().equalTo('nums', 3).find()), ['gb', 'rg']);
    });
  });

  describe('regex modifiers m and s', () => {
    // The Postgres adapter honours only the i and x regex modifiers and uses
    // POSIX regex semantics: ^/$ never match at line breaks (m is ignored) and
    // . always matches a newline (as if s were always set).
    const ds = dataset(async (newClass) => {
      const className = newClass('SdkQStrBeyond');
      await saveRows(className, [
        { name: 'lines', s: 'line one\nline two' },
        { name: 'single', s: 'line one line two' },
      ]);
      return { className };
    });
    const q = () => new Parse.Query(ds.className);

    test('matches with the m modifier anchors ^ at each line', async () => {
      assert.deepEqual(names(await q().matches('s', '^line two', 'm').find()), ['lines']);
    });

    test('a JavaScript RegExp with the m flag anchors ^ at each line', async () => {
      assert.deepEqual(names(await q().matches('s', /^line two/m).find()), ['lines']);
    });

    test('matches without the s modifier does not let . match a newline', async () => {
      assert.deepEqual(names(await q().matches('s', 'one.line').find()), ['single']);
    });
  });

  describe('containedIn with Dates', () => {
    // containedIn with Date values: the Postgres adapter passes the
    // {__type: 'Date'} objects straight into an SQL IN list and answers with an
    // internal error (500); MongoDB matches any of the dates.
    const D2020 = new Date('2020-01-01T00:00:00.000Z');
    const D2023 = new Date('2023-03-03T03:03:03.333Z');
    const ds = dataset(async (newClass) => {
      const className = newClass('SdkQDateBeyond');
      await saveRows(className, [
        { name: 'd2020', when: D2020 },
        { name: 'd2021', when: new Date('2021-06-15T12:00:00.000Z') },
        { name: 'd2023', when: D2023 },
      ]);
      return { className };
    });
    const q = () => new Parse.Query(ds.className);

    test('containedIn matches any of several Dates', async () => {
      const results = await q().containedIn('when', [D2020, D2023]).find();
      assert.deepEqual(names(results), ['d2020', 'd2023']);
    });
  });

  describe('negative constraints match objects without the field', () => {
    // MongoDB's $ne / $nin (and so Parse's notEqualTo, notContainedIn and
    // doesNotMatchQuery, which becomes $nin of pointers) match documents that
    // lack the field. Parse Server on Postgres keeps that only for notEqualTo
    // on scalar and pointer fields, where it adds "OR column IS NULL" (see
    // 'comparison operators'); everywhere else its SQL (NOT IN (...),
    // NOT array_contains(...)) evaluates to NULL for a missing column and
    // drops those objects.
    const ds = dataset(async (newClass) => {
      const targetClass = newClass('SdkQMissTarget');
      const className = newClass('SdkQMiss');
      const targets = await saveRows(targetClass, [
        { name: 'x', k: 1 },
        { name: 'y', k: 2 },
      ]);
      await saveRows(className, [
        { name: 'red', color: 'red', tags: ['red'], p: targets.x },
        { name: 'blue', color: 'blue', tags: ['blue'], p: targets.y },
        { name: 'bare' },
      ]);
      return { className, targetClass, targets };
    });
    const q = () => new Parse.Query(ds.className);

    test('notContainedIn on a scalar field', async () => {
      assert.deepEqual(names(await q().notContainedIn('color', ['red']).find()), ['bare', 'blue']);
    });

    test('notContainedIn on an array field', async () => {
      assert.deepEqual(names(await q().notContainedIn('tags', ['red']).find()), ['bare', 'blue']);
    });

    test('notEqualTo on an array field', async () => {
      assert.deepEqual(names(await q().notEqualTo('tags', 'red').find()), ['bare', 'blue']);
    });

    test('notContainedIn on a pointer field', async () => {
      assert.deepEqual(names(await q().notContainedIn('p', [ds.targets.x]).find()), ['bare', 'blue']);
    });

    test('doesNotMatchQuery on a pointer field', async () => {
      const k1 = new Parse.Query(ds.targetClass).equalTo('k', 1);
      assert.deepEqual(names(await q().doesNotMatchQuery('p', k1).find()), ['bare', 'blue']);
    });
  });
});
