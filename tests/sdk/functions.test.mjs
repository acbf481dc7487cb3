// Cloud functions through the official Parse JS SDK (Parse.Cloud.run): results, params and
// their types both ways, errors and their codes, the caller's user; and save triggers that
// work on Parse objects. The server's cloud module defines hello, sum, whoami, echo, fails,
// masterOnly and the Review / Counter triggers (tests/sdk/cloud/main.py; the reference Parse
// Server's cloud/main.js defines the same).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError, freshClass, uniqueClassName } from './helpers.mjs';

describe('Parse.Cloud.run', () => {
  test('a string result', async () => {
    assert.equal(await Parse.Cloud.run('hello'), 'Hello world!');
  });

  test('numbers in, a number out', async () => {
    assert.equal(await Parse.Cloud.run('sum', { a: 2, b: 3.5 }), 5.5);
  });

  test('params echo back with their types: a Date stays a Date, a pointer a Parse.Object', async () => {
    const when = new Date('2020-05-06T07:08:09.123Z');
    // The SDK sends a pointer as its JSON (it refuses whole Parse.Objects as params).
    const pointer = Parse.Object.fromJSON({ className: 'Thing', objectId: 'abc123' }).toPointer();
    const params = { s: 'x', n: 1, b: true, nil: null, list: [1, 'two', { three: 3 }], obj: { k: 'v' }, when, pointer };
    const result = await Parse.Cloud.run('echo', params);
    assert.ok(result.when instanceof Date);
    assert.equal(result.when.toISOString(), when.toISOString());
    assert.ok(result.pointer instanceof Parse.Object);
    assert.equal(result.pointer.className, 'Thing');
    assert.equal(result.pointer.id, 'abc123');
    assert.deepEqual(
      { s: result.s, n: result.n, b: result.b, nil: result.nil, list: result.list, obj: result.obj },
      { s: 'x', n: 1, b: true, nil: null, list: [1, 'two', { three: 3 }], obj: { k: 'v' } },
    );
  });

  test('a thrown Parse.Error keeps its code and message', async () => {
    const err = await expectParseError(Parse.Cloud.run('sum', { a: 1, b: 'x' }), 142);
    assert.equal(err.message, 'a and b must be numbers');
  });

  test('any other failure is 141 with its message', async () => {
    const err = await expectParseError(Parse.Cloud.run('fails'), 141);
    assert.equal(err.message, 'This function always fails');
  });

  test('an unknown function is 141 Invalid function', async () => {
    const err = await expectParseError(Parse.Cloud.run('noSuchFunction'), 141);
    assert.equal(err.message, 'Invalid function: "noSuchFunction"');
  });

  test('the function sees whether the master key was used', async () => {
    await expectParseError(Parse.Cloud.run('masterOnly'), 119);
    assert.equal(await Parse.Cloud.run('masterOnly', {}, MASTER), 'ok');
  });

  test('params of every Parse type round-trip, nested too', async (t) => {
    const className = freshClass(t, 'Echoed');
    const saved = await new Parse.Object(className).save({ n: 1, at: new Date('2021-02-03T04:05:06.007Z') });
    // The SDK refuses a whole Parse.Object as a param; its JSON with __type Object is the way to send one.
    const whole = { ...saved.toJSON(), __type: 'Object', className };
    const when = new Date('2020-05-06T07:08:09.123Z');
    const geo = new Parse.GeoPoint(40.5, -3.25);
    const bytes = { __type: 'Bytes', base64: 'aGVsbG8=' };
    const params = { when, pointer: saved.toPointer(), whole, geo, bytes,
      nested: [{ deep: [when, saved.toPointer(), [geo]] }, { list: [1, 'two', null] }] };
    const result = await Parse.Cloud.run('echo', params);
    assert.ok(result.when instanceof Date);
    assert.equal(result.when.toISOString(), when.toISOString());
    assert.ok(result.pointer instanceof Parse.Object);
    assert.equal(result.pointer.id, saved.id);
    assert.ok(result.whole instanceof Parse.Object);
    assert.equal(result.whole.className, className);
    assert.equal(result.whole.id, saved.id);
    assert.equal(result.whole.get('n'), 1);
    assert.ok(result.whole.get('at') instanceof Date);
    assert.equal(result.whole.createdAt.toISOString(), saved.createdAt.toISOString());
    assert.ok(result.geo instanceof Parse.GeoPoint);
    assert.deepEqual([result.geo.latitude, result.geo.longitude], [40.5, -3.25]);
    assert.deepEqual(result.bytes, bytes);
    const [first, second] = result.nested;
    assert.ok(first.deep[0] instanceof Date);
    assert.ok(first.deep[1] instanceof Parse.Object);
    assert.equal(first.deep[1].id, saved.id);
    assert.ok(first.deep[2][0] instanceof Parse.GeoPoint);
    assert.deepEqual(second, { list: [1, 'two', null] });
  });

  test('whoami sees the caller\'s user: its username, null without a session', async () => {
    // Parse answers a null result as null; Python has one None for null and for no return at
    // all, which Parsnip answers as no result (undefined).
    assert.equal((await Parse.Cloud.run('whoami')) ?? null, null);
    const user = new Parse.User();
    const username = uniqueClassName('who');
    await user.signUp({ username, password: 'pw' });
    try {
      assert.equal(await Parse.Cloud.run('whoami', {}, { sessionToken: user.getSessionToken() }), username);
    } finally {
      await user.destroy(MASTER);
    }
  });
});

describe('save triggers working on Parse objects', () => {
  test('Review: a beforeSave refusal keeps its code; its change is stored and comes back', async (t) => {
    const err = await expectParseError(new Parse.Object('Review').save({ stars: 9 }), 142);
    assert.equal(err.message, 'stars must be between 1 and 5');
    const review = await new Parse.Object('Review').save({ stars: 4, comment: '  tidy me  ' });
    t.after(() => review.destroy(MASTER));
    assert.equal(review.get('comment'), 'tidy me');
    const stored = await new Parse.Query('Review').get(review.id);
    assert.equal(stored.get('comment'), 'tidy me');
  });

  test('Counter: an afterSave writes an AuditLog with a Parse object, create then update', async (t) => {
    // Only this test's objects are removed: Review, Counter and AuditLog are shared class names.
    const counter = await new Parse.Object('Counter').save({ n: 1 });
    counter.increment('n');
    await counter.save();
    const logs = await new Parse.Query('AuditLog').equalTo('target', counter.id).ascending('createdAt').find(MASTER);
    t.after(() => Parse.Object.destroyAll([counter, ...logs], MASTER));
    assert.deepEqual(logs.map((l) => l.get('action')), ['create', 'update']);
  });
});
