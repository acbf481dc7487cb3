// Users, sessions, ACLs and roles through the official Parse JS SDK.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError, freshClass } from './helpers.mjs';

Parse.User.enableUnsafeCurrentUser();

const uniq = () => 'u' + Math.random().toString(36).slice(2, 10);

async function newUser(password = 'pw-1') {
  const user = new Parse.User();
  user.set('username', uniq());
  user.set('password', password);
  await user.signUp();
  return user;
}

describe('users and sessions', () => {
  test('signUp, logIn, current, become, logOut', async () => {
    const user = await newUser('secret');
    assert.match(user.getSessionToken(), /^r:[0-9a-f]{32}$/);
    assert.equal(Parse.User.current().id, user.id);
    const name = user.get('username');
    await Parse.User.logOut();
    assert.equal(Parse.User.current(), null);

    const again = await Parse.User.logIn(name, 'secret');
    assert.equal(again.id, user.id);
    const token = again.getSessionToken();
    const session = await Parse.Session.current();
    assert.equal(session.get('sessionToken'), token);
    assert.equal(session.get('user').id, user.id);

    // logOut ended the signup session and the first login's; become() takes a live token.
    await Parse.User.logOut();
    await expectParseError(Parse.User.become(token), 209);
    const third = await Parse.User.logIn(name, 'secret');
    const became = await Parse.User.become(third.getSessionToken());
    assert.equal(became.id, user.id);
    await Parse.User.logOut();
    await expectParseError(Parse.User.logIn(name, 'wrong'), 101);
  });

  test('a user saves their own fields but not another user', async () => {
    const alice = await newUser();
    const bob = await newUser();
    alice.set('nick', 'al');
    await alice.save(null, { sessionToken: alice.getSessionToken() });
    const fetched = await new Parse.Query(Parse.User).get(alice.id, { sessionToken: alice.getSessionToken() });
    assert.equal(fetched.get('nick'), 'al');
    const other = Parse.User.createWithoutData(alice.id);
    other.set('nick', 'hacked');
    await expectParseError(other.save(null, { sessionToken: bob.getSessionToken() }), 206);
    await Parse.User.logOut();
  });
});

describe('ACLs and roles', () => {
  test('an object readable only by its owner is missed by others', async (t) => {
    const cls = freshClass(t);
    const alice = await newUser();
    const bob = await newUser();
    const obj = new Parse.Object(cls);
    obj.set('t', 'mine');
    obj.setACL(new Parse.ACL(alice));
    await obj.save(null, { sessionToken: alice.getSessionToken() });
    const asBob = await new Parse.Query(cls).find({ sessionToken: bob.getSessionToken() });
    assert.equal(asBob.length, 0);
    const asAlice = await new Parse.Query(cls).find({ sessionToken: alice.getSessionToken() });
    assert.deepEqual(asAlice.map((o) => o.get('t')), ['mine']);
    const pub = new Parse.Object(cls);
    const acl = new Parse.ACL(alice);
    acl.setPublicReadAccess(true);
    pub.setACL(acl);
    pub.set('t', 'public');
    await pub.save(null, { sessionToken: alice.getSessionToken() });
    const later = await new Parse.Query(cls).find({ sessionToken: bob.getSessionToken() });
    assert.deepEqual(later.map((o) => o.get('t')), ['public']);
    await Parse.User.logOut();
  });

  test('roles inside roles grant read through role ACLs', async (t) => {
    const cls = freshClass(t);
    const member = await newUser();
    const outsider = await newUser();
    const roleAcl = new Parse.ACL();
    roleAcl.setPublicReadAccess(true);
    const inner = new Parse.Role(cls + 'Inner', roleAcl);
    inner.getUsers().add(member);
    await inner.save(null, MASTER);
    const outer = new Parse.Role(cls + 'Outer', roleAcl);
    outer.getRoles().add(inner);
    await outer.save(null, MASTER);
    const obj = new Parse.Object(cls);
    const acl = new Parse.ACL();
    acl.setRoleReadAccess(outer, true);
    obj.setACL(acl);
    obj.set('t', 'outer only');
    await obj.save(null, MASTER);
    const seen = await new Parse.Query(cls).find({ sessionToken: member.getSessionToken() });
    assert.deepEqual(seen.map((o) => o.get('t')), ['outer only']);
    const missed = await new Parse.Query(cls).find({ sessionToken: outsider.getSessionToken() });
    assert.equal(missed.length, 0);
    await Parse.User.logOut();
  });
});
