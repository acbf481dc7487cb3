// Cloud Code triggers through the official Parse JS SDK: beforeSave (refusal and changes the
// client sees), beforeDelete, a batch (saveAll) whose refused object fails alone, the context a
// client passes (save, saveAll, destroy) from beforeSave to afterSave, beforeFind/afterFind, and
// the built-in validators with Parse's messages. The server's cloud module defines them
// (tests/sdk/cloud/main.py; for Parse Server, its twin tests/sdk/cloud/main.js).

import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError } from './helpers.mjs';

const marker = () => randomBytes(6).toString('hex');

async function newUser(fields = {}) {
  const user = new Parse.User();
  await user.signUp({ username: `trig${marker()}`, password: 'pw-trig', ...fields });
  return { user, session: { sessionToken: user.getSessionToken() } };
}

describe('beforeSave and beforeDelete', () => {
  test('a beforeSave refusal keeps its code and message, and nothing is saved', async () => {
    const tag = marker();
    const err = await expectParseError(new Parse.Object('Review').save({ stars: 9, tag }), 142);
    assert.equal(err.message, 'stars must be between 1 and 5');
    assert.equal(await new Parse.Query('Review').equalTo('tag', tag).count(MASTER), 0);
  });

  test("a beforeSave's change is stored and reaches the saved object", async () => {
    const review = await new Parse.Object('Review').save({ stars: 4, comment: '  nice  ' });
    assert.equal(review.get('comment'), 'nice');
    const stored = await new Parse.Query('Review').get(review.id, MASTER);
    assert.equal(stored.get('comment'), 'nice');
  });

  test('a beforeDelete refusal keeps its code; an allowed delete happens', async () => {
    const locked = await new Parse.Object('Locked').save({ locked: true });
    const open = await new Parse.Object('Locked').save({ locked: false });
    const err = await expectParseError(locked.destroy(), 119);
    assert.equal(err.message, 'object is locked');
    await open.destroy();
    await expectParseError(new Parse.Query('Locked').get(open.id, MASTER), 101);
    assert.equal((await new Parse.Query('Locked').get(locked.id, MASTER)).id, locked.id);
  });

  test('in saveAll, the object a beforeSave refuses fails alone', async () => {
    const tag = marker();
    const objects = [{ stars: 2 }, { stars: 9 }, { stars: 5 }].map(
      (fields) => new Parse.Object('Review', { ...fields, tag }),
    );
    // The SDK rejects with the first failed sub-request's error; the others were saved.
    const err = await expectParseError(Parse.Object.saveAll(objects), 142);
    assert.equal(err.message, 'stars must be between 1 and 5');
    const stored = await new Parse.Query('Review').equalTo('tag', tag).ascending('stars').find(MASTER);
    assert.deepEqual(stored.map((o) => o.get('stars')), [2, 5]);
  });
});

describe('context', () => {
  test('save(null, {context}) reaches beforeSave, and afterSave gets what beforeSave added', async () => {
    const mark = marker();
    const obj = await new Parse.Object('TrigContext').save({ n: 1 }, { context: { marker: mark } });
    const seen = await Parse.Cloud.run('trigContexts', { marker: mark });
    assert.deepEqual(seen, [
      { trigger: 'beforeSave', context: { marker: mark } },
      { trigger: 'afterSave', id: obj.id, context: { marker: mark, addedBy: 'beforeSave' } },
    ]);
  });

  test('saveAll and destroy pass their context to every trigger', async () => {
    const mark = marker();
    const objects = [new Parse.Object('TrigContext', { n: 1 }), new Parse.Object('TrigContext', { n: 2 })];
    await Parse.Object.saveAll(objects, { context: { marker: mark } });
    const saved = (await Parse.Cloud.run('trigContexts', { marker: mark })).filter((c) => c.trigger === 'afterSave');
    assert.deepEqual(saved.map((c) => c.id).sort(), objects.map((o) => o.id).sort());
    const mark2 = marker();
    await objects[0].destroy({ context: { marker: mark2 } });
    assert.deepEqual(await Parse.Cloud.run('trigContexts', { marker: mark2 }), [
      { trigger: 'afterDelete', id: objects[0].id, context: { marker: mark2 } },
    ]);
  });
});

describe('beforeFind and afterFind', () => {
  test('beforeFind narrows what a client finds, gets and counts; afterFind changes the results', async () => {
    const tag = marker();
    const [open, hidden] = await Parse.Object.saveAll(
      [new Parse.Object('TrigSecret', { tag, public: true }), new Parse.Object('TrigSecret', { tag, public: false })],
      MASTER,
    );
    const found = await new Parse.Query('TrigSecret').equalTo('tag', tag).find();
    assert.deepEqual(found.map((o) => [o.id, o.get('seen')]), [[open.id, true]]);
    assert.equal(await new Parse.Query('TrigSecret').equalTo('tag', tag).count(), 1);
    await expectParseError(new Parse.Query('TrigSecret').get(hidden.id), 101);
    const all = await new Parse.Query('TrigSecret').equalTo('tag', tag).find(MASTER);
    assert.equal(all.length, 2);
    assert.ok(all.every((o) => o.get('seen') === true));
  });

  test('beforeFind sets order and limit', async () => {
    const tag = marker();
    await Parse.Object.saveAll([1, 3, 2, 5, 4].map((n) => new Parse.Object('TrigTop', { n, tag })));
    const found = await new Parse.Query('TrigTop').equalTo('tag', tag).find();
    assert.deepEqual(found.map((o) => o.get('n')), [5, 4]);
  });

  test('afterFind may return other results', async () => {
    const tag = marker();
    await Parse.Object.saveAll([1, 2, 3].map((n) => new Parse.Object('TrigFirst', { n, tag })));
    assert.equal((await new Parse.Query('TrigFirst').equalTo('tag', tag).find()).length, 1);
  });
});

describe('validators', () => {
  test('requireMaster', async () => {
    const err = await expectParseError(new Parse.Object('TrigMaster').save({ n: 1 }), 142);
    assert.equal(err.message, 'Validation failed. Master key is required to complete this request.');
    await new Parse.Object('TrigMaster').save({ n: 1 }, MASTER);
  });

  test('requireUser', async () => {
    const err = await expectParseError(new Parse.Object('TrigUser').save({ n: 1 }), 142);
    assert.equal(err.message, 'Validation failed. Please login to continue.');
    const { session } = await newUser();
    await new Parse.Object('TrigUser').save({ n: 1 }, session);
  });

  test('fields: required, type, options, default', async () => {
    const cases = [
      [{}, 'Validation failed. Please specify data for stars.'],
      [{ stars: 'two' }, 'Validation failed. Invalid type for stars. Expected: number'],
      [{ stars: 4 }, 'Validation failed. Invalid option for stars. Expected: 1, 2, 3'],
    ];
    for (const [fields, message] of cases) {
      const err = await expectParseError(new Parse.Object('TrigFields').save(fields), 142);
      assert.equal(err.message, message);
    }
    const saved = await new Parse.Object('TrigFields').save({ stars: 2 });
    assert.equal((await new Parse.Query('TrigFields').get(saved.id, MASTER)).get('label'), 'none');
  });

  test('requireAnyUserRoles', async () => {
    const { user, session } = await newUser();
    const err = await expectParseError(new Parse.Object('TrigRoles').save({ n: 1 }, session), 142);
    assert.equal(err.message, 'Validation failed. User does not match the required roles.');
    let role = await new Parse.Query(Parse.Role).equalTo('name', 'trigAdmin').first(MASTER);
    if (!role) {
      const acl = new Parse.ACL();
      acl.setPublicReadAccess(true);
      role = new Parse.Role('trigAdmin', acl);
    }
    role.getUsers().add(user);
    await role.save(null, MASTER);
    await new Parse.Object('TrigRoles').save({ n: 1 }, session);
  });

  test('requireUserKeys', async () => {
    const plain = await newUser();
    const err = await expectParseError(new Parse.Object('TrigKeys').save({ n: 1 }, plain.session), 142);
    assert.equal(err.message, 'Validation failed. Please set data for nickname on your account.');
    const named = await newUser({ nickname: 'N' });
    await new Parse.Object('TrigKeys').save({ n: 1 }, named.session);
  });

  test('skipWithMasterKey: the trigger does not run for the master key', async () => {
    const err = await expectParseError(new Parse.Object('TrigSkip').save({ n: 1 }), 142);
    assert.equal(err.message, 'only with the master key');
    await new Parse.Object('TrigSkip').save({ n: 1 }, MASTER);
  });

  test('a constant field keeps its default on create and its stored value on update', async () => {
    const obj = await new Parse.Object('TrigConstant').save({ kind: 'premium' });
    assert.equal((await new Parse.Query('TrigConstant').get(obj.id, MASTER)).get('kind'), 'basic');
    await obj.save({ kind: 'gold', n: 1 });
    const stored = await new Parse.Query('TrigConstant').get(obj.id, MASTER);
    assert.deepEqual([stored.get('kind'), stored.get('n')], ['basic', 1]);
  });
});
