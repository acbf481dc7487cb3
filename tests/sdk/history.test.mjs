// Time travel through the official Parse JS SDK. A query cannot carry a parameter of its own,
// so the moment travels in the X-Parse-As-Of header, which the SDK sends with every request once
// it is set in Parse.CoreManager's REQUEST_HEADERS. Parsnip only (Parse Server has no history).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, config, freshClass } from './helpers.mjs';

async function lastPosition(className, objectId) {
  const r = await fetch(`${config.serverURL}/history/${className}/${objectId}`, {
    headers: { 'X-Parse-Application-Id': config.appId, 'X-Parse-Master-Key': config.masterKey },
  });
  assert.equal(r.status, 200);
  const { results } = await r.json();
  return results.at(-1).position;
}

async function asOf(moment, read) {
  Parse.CoreManager.set('REQUEST_HEADERS', { 'X-Parse-As-Of': String(moment) });
  try {
    return await read();
  } finally {
    Parse.CoreManager.set('REQUEST_HEADERS', {});
  }
}

describe('X-Parse-As-Of', () => {
  test('find, count and get answer as the class was at a position or a date', async (t) => {
    const className = freshClass(t, 'SdkHist');
    const obj = await new Parse.Object(className).save({ score: 1, tag: 'a' }, MASTER);
    const position = await lastPosition(className, obj.id);
    const createdAt = obj.createdAt.toISOString();
    await obj.save({ score: 2 }, MASTER);
    await new Parse.Object(className).save({ score: 1, tag: 'b' }, MASTER);

    for (const moment of [position, createdAt]) {
      const query = new Parse.Query(className).equalTo('score', 1);
      const found = await asOf(moment, () => query.find(MASTER));
      assert.deepEqual(found.map((o) => [o.id, o.get('tag')]), [[obj.id, 'a']]);
      assert.equal(await asOf(moment, () => new Parse.Query(className).count(MASTER)), 1);
      const then = await asOf(moment, () => new Parse.Query(className).get(obj.id, MASTER));
      assert.equal(then.get('score'), 1);
    }
    // Without the header, the present.
    const now = await new Parse.Query(className).equalTo('score', 1).find(MASTER);
    assert.deepEqual(now.map((o) => o.get('tag')), ['b']);
  });
});
