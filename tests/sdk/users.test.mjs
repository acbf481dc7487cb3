// Users, sessions, ACLs and roles through the official Parse JS SDK.
// Each test signs up its own users (random names), so tests are independent; they run in
// order within this file because Parse.User.current() is process-wide state.

import { randomBytes } from 'node:crypto';
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, expectParseError, freshClass } from './helpers.mjs';

Parse.User.enableUnsafeCurrentUser(); // current() in node: one user per process, fine for tests

const name = (prefix = 'sdk') => `${prefix}${randomBytes(5).toString('hex')}`;

async function newUser(fields = {}) {
  const user = new Parse.User();
  const password = `pw-${randomBytes(4).toString('hex')}`;
  await user.signUp({ username: name(), password, email: `${name('m')}@x.com`, ...fields });
  return { user, password, token: user.getSessionToken() };
}

afterEach(async () => {
  if (Parse.User.current()) {
    await Parse.User.logOut().catch(() => {});
  }
});

describe('sign up, log in, log out', () => {
  test('signUp logs the new user in and current() is that user', async () => {
    const { user, token } = await newUser();
    assert.match(token, /^r:[0-9a-f]{32}$/);
    assert.equal(Parse.User.current().id, user.id);
    assert.equal(Parse.User.current().getSessionToken(), token);
    assert.equal(user.get('password'), undefined);
  });

  test('logIn gives a new session; Parse.Session.current() is it', async () => {
    const { user, password, token } = await newUser();
    await Parse.User.logOut();
    const again = await Parse.User.logIn(user.get('username'), password);
    assert.equal(again.id, user.id);
    assert.notEqual(again.getSessionToken(), token);
    const session = await Parse.Session.current();
    assert.equal(session.getSessionToken(), again.getSessionToken());
    assert.equal(session.get('user').id, user.id);
    assert.equal(session.get('createdWith').action, 'login');
  });

  test('a wrong password and an unknown user are the same error', async () => {
    const { user } = await newUser();
    await Parse.User.logOut();
    const wrong = await expectParseError(Parse.User.logIn(user.get('username'), 'wrong'), 101);
    const unknown = await expectParseError(Parse.User.logIn(name(), 'wrong'), 101);
    assert.equal(wrong.message, unknown.message);
  });

  test('become(token) makes the token\'s user current', async () => {
    const first = await newUser();
    const second = await newUser(); // signUp made the second user current
    assert.equal(Parse.User.current().id, second.user.id);
    const became = await Parse.User.become(first.token);
    assert.equal(became.id, first.user.id);
    assert.equal(Parse.User.current().id, first.user.id);
    assert.equal(Parse.User.current().getSessionToken(), first.token);
  });

  test('after logOut the token is dead', async () => {
    const { token } = await newUser();
    await Parse.User.logOut();
    assert.equal(Parse.User.current(), null);
    await expectParseError(Parse.User.become(token), 209);
    await expectParseError(new Parse.Query('Anything').find({ sessionToken: token }), 209);
  });
});

describe('ACLs', () => {
  test('an object readable only by its owner is missed by another user', async (t) => {
    const className = freshClass(t, 'SdkPrivate');
    const alice = await newUser();
    const obj = new Parse.Object(className, { secret: 'mine' });
    obj.setACL(new Parse.ACL(alice.user));
    await obj.save(null, { sessionToken: alice.token });

    const bob = await newUser();
    const seen = await new Parse.Query(className).find({ sessionToken: bob.token });
    assert.deepEqual(seen, []);
    assert.equal(await new Parse.Query(className).count({ sessionToken: bob.token }), 0);
    await expectParseError(new Parse.Query(className).get(obj.id, { sessionToken: bob.token }), 101);
    await expectParseError(new Parse.Query(className).get(obj.id), 101); // anonymous

    const own = await new Parse.Query(className).get(obj.id, { sessionToken: alice.token });
    assert.equal(own.get('secret'), 'mine');
    assert.equal(own.getACL().getReadAccess(alice.user.id), true);
  });

  test('public read does not give write', async (t) => {
    const className = freshClass(t, 'SdkPublic');
    const alice = await newUser();
    const acl = new Parse.ACL(alice.user);
    acl.setPublicReadAccess(true);
    const obj = new Parse.Object(className, { n: 1 });
    obj.setACL(acl);
    await obj.save(null, { sessionToken: alice.token });

    const bob = await newUser();
    const seen = await new Parse.Query(className).get(obj.id, { sessionToken: bob.token });
    assert.equal(seen.get('n'), 1);
    assert.equal((await new Parse.Query(className).get(obj.id)).get('n'), 1); // anonymous too
    seen.set('n', 2);
    await expectParseError(seen.save(null, { sessionToken: bob.token }), 101);
    await expectParseError(seen.destroy({ sessionToken: bob.token }), 101);
    const after = await new Parse.Query(className).get(obj.id, { sessionToken: alice.token });
    assert.equal(after.get('n'), 1);
  });
});

describe('roles', () => {
  test('a role inside a role grants read through setRoleReadAccess', async (t) => {
    const className = freshClass(t, 'SdkRoles');
    const member = await newUser();
    const outsider = await newUser();

    const roleAcl = new Parse.ACL();
    roleAcl.setPublicReadAccess(true);
    const inner = new Parse.Role(name('Inner'), roleAcl);
    inner.getUsers().add(member.user);
    await inner.save(null, MASTER);
    const outer = new Parse.Role(name('Outer'), roleAcl);
    outer.getRoles().add(inner);
    await outer.save(null, MASTER);

    const acl = new Parse.ACL();
    acl.setRoleReadAccess(outer, true);
    const obj = new Parse.Object(className, { v: 'for outer' });
    obj.setACL(acl);
    await obj.save(null, MASTER);

    const found = await new Parse.Query(className).find({ sessionToken: member.token });
    assert.deepEqual(found.map((o) => o.id), [obj.id]);
    assert.equal(found[0].getACL().getRoleReadAccess(outer), true);
    assert.deepEqual(await new Parse.Query(className).find({ sessionToken: outsider.token }), []);

    // The users in a role are a relation that can be queried.
    const users = await inner.getUsers().query().find(MASTER);
    assert.deepEqual(users.map((u) => u.id), [member.user.id]);

    // Leaving the inner role takes effect at once.
    inner.getUsers().remove(member.user);
    await inner.save(null, MASTER);
    assert.deepEqual(await new Parse.Query(className).find({ sessionToken: member.token }), []);
  });

  test('a user cannot add themself to a role whose ACL they may not write', async () => {
    const roleAcl = new Parse.ACL();
    roleAcl.setPublicReadAccess(true);
    const role = new Parse.Role(name('Closed'), roleAcl);
    await role.save(null, MASTER);
    const intruder = await newUser();
    const seen = await new Parse.Query(Parse.Role).get(role.id, { sessionToken: intruder.token });
    seen.getUsers().add(intruder.user);
    await expectParseError(seen.save(null, { sessionToken: intruder.token }), 101);
    const users = await role.getUsers().query().find(MASTER);
    assert.deepEqual(users, []);
  });
});

describe('saving users', () => {
  test('a user saves their own fields, and not another user', async () => {
    const alice = await newUser();
    alice.user.set('nick', 'ally');
    await alice.user.save(null, { sessionToken: alice.token });
    const fetched = await new Parse.Query(Parse.User).get(alice.user.id, { sessionToken: alice.token });
    assert.equal(fetched.get('nick'), 'ally');

    const bob = await newUser();
    const victim = Parse.User.createWithoutData(alice.user.id);
    victim.set('nick', 'hacked');
    await expectParseError(victim.save(null, { sessionToken: bob.token }), 206);
    await expectParseError(victim.destroy({ sessionToken: bob.token }), 206);
    const still = await new Parse.Query(Parse.User).get(alice.user.id, MASTER);
    assert.equal(still.get('nick'), 'ally');
  });

  test('another user\'s email is never returned', async () => {
    const alice = await newUser();
    const acl = new Parse.ACL(alice.user);
    acl.setPublicReadAccess(true);
    alice.user.setACL(acl);
    await alice.user.save(null, { sessionToken: alice.token });
    const bob = await newUser();
    const seen = await new Parse.Query(Parse.User).get(alice.user.id, { sessionToken: bob.token });
    assert.equal(seen.get('username'), alice.user.get('username'));
    assert.equal(seen.get('email'), undefined);
  });
});
