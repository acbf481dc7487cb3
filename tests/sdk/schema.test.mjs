// Class-level permissions set through the official SDK's Parse.Schema, and what clients then get.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError, uniqueClassName } from './helpers.mjs';

async function newUser() {
  const user = new Parse.User();
  user.set('username', 'u' + Math.random().toString(36).slice(2, 10));
  user.set('password', 'pw-1');
  await user.signUp();
  await Parse.User.logOut();
  return user;
}

describe('Parse.Schema', () => {
  test('a schema saved with CLPs and protected fields is enforced for clients', async (t) => {
    const cls = uniqueClassName('Clp');
    t.after(() => new Parse.Schema(cls).purge().then(() => new Parse.Schema(cls).delete()).catch(() => {}));
    const reader = await newUser();
    const schema = new Parse.Schema(cls);
    schema.addString('title').addString('secret');
    schema.setCLP({
      find: { requiresAuthentication: true },
      count: { requiresAuthentication: true },
      get: { requiresAuthentication: true },
      create: {},
      update: {},
      delete: {},
      addField: {},
      protectedFields: { '*': ['secret'] },
    });
    await schema.save();

    const fetched = await new Parse.Schema(cls).get();
    assert.deepEqual(fetched.classLevelPermissions.protectedFields, { '*': ['secret'] });
    assert.deepEqual(fetched.classLevelPermissions.create, {});

    const obj = new Parse.Object(cls);
    obj.set({ title: 't', secret: 's' });
    await obj.save(null, MASTER);

    await expectParseError(new Parse.Object(cls).save({ title: 'x' }), 119);
    await expectParseError(new Parse.Query(cls).find(), 101);
    const seen = await new Parse.Query(cls).find({ sessionToken: reader.getSessionToken() });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].get('title'), 't');
    assert.equal(seen[0].get('secret'), undefined);
    const all = await new Parse.Query(cls).find(MASTER);
    assert.equal(all[0].get('secret'), 's');
  });
});
