// Cloud functions through the official Parse JS SDK (Parse.Cloud.run): results, params and
// their types both ways, errors and their codes. The server's cloud module defines hello,
// sum, echo, fails and masterOnly (tests/sdk/cloud/main.py; the reference Parse Server's
// cloud/main.js defines the same).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError } from './helpers.mjs';

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
});
