// The smaller gaps an SDK app meets (issue 14): checking a password, one session per
// installation, query.get on a class whose find is off, equalTo on a Relation key, and schema
// fields that are required or have a default. Each passes against Parse Server 9.10 too.

import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError, freshClass, uniqueClassName } from './helpers.mjs';

const name = (prefix = 'gap') => `${prefix}${randomBytes(5).toString('hex')}`;

async function newUser() {
  const user = new Parse.User();
  const password = `pw-${randomBytes(4).toString('hex')}`;
  await user.signUp({ username: name(), password, email: `${name('m')}@x.com` });
  return { user, password, token: user.getSessionToken() };
}

async function sessionsOf(user) {
  return new Parse.Query(Parse.Session).equalTo('user', user).find(MASTER);
}

/** Parse Server ends the old sessions without waiting: look until they are gone (or 5 s). */
async function eventually(check) {
  const until = Date.now() + 5000;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function dropSchemaAfter(t, cls) {
  t.after(() => new Parse.Schema(cls).purge().then(() => new Parse.Schema(cls).delete()).catch(() => {}));
}

describe('verifyPassword', () => {
  test('the right password answers the user and makes no session', async () => {
    const { user, password } = await newUser();
    const before = (await sessionsOf(user)).length;
    // The SDK hands back the server's JSON as it is.
    const checked = await Parse.User.verifyPassword(user.get('username'), password);
    assert.equal(checked.objectId, user.id);
    assert.equal(checked.username, user.get('username'));
    assert.equal(checked.sessionToken, undefined);
    assert.equal(checked.password, undefined);
    const byInstance = await user.verifyPassword(password);
    assert.equal(byInstance.objectId, user.id);
    assert.equal((await sessionsOf(user)).length, before);
  });

  test('a wrong password and an unknown user are 101', async () => {
    const { user } = await newUser();
    await expectParseError(Parse.User.verifyPassword(user.get('username'), 'wrong'), 101);
    await expectParseError(Parse.User.verifyPassword(name(), 'wrong'), 101);
    await expectParseError(Parse.User.verifyPassword(user.get('username'), ''), 201);
  });
});

describe('one session per installation', () => {
  test('logging in again from the same installation ends the earlier session', async () => {
    // The SDK sends its installation id with every request: signUp and logIn share it.
    const { user, password, token } = await newUser();
    const again = await Parse.User.logIn(user.get('username'), password);
    assert.notEqual(again.getSessionToken(), token);
    await eventually(async () => {
      const left = await sessionsOf(user);
      assert.deepEqual(left.map((s) => s.getSessionToken()), [again.getSessionToken()]);
    });
    await expectParseError(Parse.User.me(token), 209);
    const current = await Parse.User.me(again.getSessionToken());
    assert.equal(current.id, user.id);
  });
});

describe('query.get with find off and get on', () => {
  test('query.get serves the object, find and count stay refused', async (t) => {
    const cls = uniqueClassName('GetOnly');
    dropSchemaAfter(t, cls);
    const schema = new Parse.Schema(cls);
    schema.addNumber('n');
    schema.setCLP({
      find: {}, count: {}, get: { '*': true }, create: { '*': true }, update: { '*': true },
      delete: { '*': true }, addField: {}, protectedFields: {},
    });
    await schema.save();
    const obj = await new Parse.Object(cls).save({ n: 1 });

    const got = await new Parse.Query(cls).get(obj.id);
    assert.equal(got.get('n'), 1);
    await expectParseError(new Parse.Query(cls).get('nosuchobj1'), 101);
    await expectParseError(new Parse.Query(cls).find(), 119);
    await expectParseError(new Parse.Query(cls).equalTo('n', 1).first(), 119);
    await expectParseError(new Parse.Query(cls).count(), 119);
  });
});

describe('equalTo on a Relation key', () => {
  test('finds the owners whose relation holds the object', async (t) => {
    const owners = freshClass(t, 'RelOwner');
    const targets = freshClass(t, 'RelTarget');
    const [t0, t1] = await Parse.Object.saveAll([new Parse.Object(targets), new Parse.Object(targets)]);
    const a = new Parse.Object(owners);
    a.set('name', 'a');
    a.relation('likes').add([t0, t1]);
    const b = new Parse.Object(owners);
    b.set('name', 'b');
    b.relation('likes').add(t1);
    const c = new Parse.Object(owners);
    c.set('name', 'c');
    await Parse.Object.saveAll([a, b, c]);

    const names = async (query) => (await query.ascending('name').find()).map((o) => o.get('name'));
    assert.deepEqual(await names(new Parse.Query(owners).equalTo('likes', t0)), ['a']);
    assert.deepEqual(await names(new Parse.Query(owners).equalTo('likes', t1)), ['a', 'b']);
    assert.deepEqual(await names(new Parse.Query(owners).containedIn('likes', [t0, t1])), ['a', 'b']);
    assert.deepEqual(await names(new Parse.Query(owners).notEqualTo('likes', t0)), ['b', 'c']);
    assert.equal(await new Parse.Query(owners).equalTo('likes', t1).count(), 2);
  });
});

describe('required fields and default values from Parse.Schema', () => {
  test('a create gets the defaults; a missing or unset required field is 142', async (t) => {
    const cls = uniqueClassName('Required');
    dropSchemaAfter(t, cls);
    const schema = new Parse.Schema(cls);
    schema.addString('title', { required: true });
    schema.addNumber('score', { defaultValue: 10 });
    schema.addArray('tags', { defaultValue: ['x'] });
    await schema.save();
    const fields = (await new Parse.Schema(cls).get()).fields;
    assert.deepEqual(fields.title, { type: 'String', required: true });
    assert.deepEqual(fields.score, { type: 'Number', defaultValue: 10 });

    const obj = await new Parse.Object(cls).save({ title: 't' });
    assert.equal(obj.get('score'), 10); // from the create's answer
    assert.deepEqual(obj.get('tags'), ['x']);
    const fetched = await new Parse.Query(cls).get(obj.id);
    assert.equal(fetched.get('score'), 10);
    const given = await new Parse.Object(cls).save({ title: 'u', score: 3 });
    assert.equal((await new Parse.Query(cls).get(given.id)).get('score'), 3);

    const missing = await expectParseError(new Parse.Object(cls).save({ score: 1 }), 142);
    assert.equal(missing.message, 'title is required');
    fetched.unset('title');
    await expectParseError(fetched.save(), 142);
    assert.equal((await new Parse.Query(cls).get(obj.id)).get('title'), 't');
  });
});
