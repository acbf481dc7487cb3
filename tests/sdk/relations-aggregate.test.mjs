// Relations (Parse.Relation and relation.query()), aggregate and distinct through the JS SDK.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, freshClass } from './helpers.mjs';

async function saveAll(className, rows) {
  const objects = rows.map((row) => new Parse.Object(className, row));
  await Parse.Object.saveAll(objects);
  return objects;
}

describe('relations', () => {
  test('relation.add, relation.query(), relation.remove', async (t) => {
    const ownerClass = freshClass(t, 'SdkRelOwner');
    const targetClass = freshClass(t, 'SdkRelTarget');
    const targets = await saveAll(targetClass, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const owner = new Parse.Object(ownerClass);
    owner.relation('likes').add([targets[0], targets[1]]);
    await owner.save();

    const fetched = await new Parse.Query(ownerClass).get(owner.id);
    const relation = fetched.relation('likes');
    assert.equal(relation.targetClassName, targetClass);
    const members = await relation.query().ascending('n').find();
    assert.deepEqual(members.map((o) => o.get('n')), [1, 2]);

    fetched.relation('likes').remove(targets[0]);
    fetched.relation('likes').add(targets[2]);
    await fetched.save();
    const after = await fetched.relation('likes').query().ascending('n').find();
    assert.deepEqual(after.map((o) => o.get('n')), [2, 3]);

    const counted = await fetched.relation('likes').query().greaterThan('n', 2).count();
    assert.equal(counted, 1);
  });
});

describe('aggregate and distinct', () => {
  test('distinct values of a field, with a where', async (t) => {
    const className = freshClass(t, 'SdkAgg');
    await saveAll(className, [{ name: 'a', score: 1 }, { name: 'a', score: 3 }, { name: 'b', score: 5 }]);
    assert.deepEqual((await new Parse.Query(className).distinct('name', MASTER)).sort(), ['a', 'b']);
    const filtered = await new Parse.Query(className).greaterThan('score', 2).distinct('name', MASTER);
    assert.deepEqual(filtered.sort(), ['a', 'b']);
    const low = await new Parse.Query(className).lessThan('score', 2).distinct('name', MASTER);
    assert.deepEqual(low, ['a']);
  });

  test('a $group pipeline sums per key', async (t) => {
    const className = freshClass(t, 'SdkAgg');
    await saveAll(className, [{ name: 'a', score: 1 }, { name: 'a', score: 3 }, { name: 'b', score: 5 }]);
    const results = await new Parse.Query(className).aggregate(
      [{ $group: { _id: '$name', total: { $sum: '$score' } } }], MASTER);
    const totals = Object.fromEntries(results.map((r) => [r.objectId, r.total]));
    assert.deepEqual(totals, { a: 4, b: 5 });
  });
});
