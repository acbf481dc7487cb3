// Parse.File through the official JS SDK: made from base64, a bytes array and a data URI, saved
// (by a user, as Parse's default fileUpload allows), attached to an object, read back with
// getData(), destroyed with and without the master key; and an upload Parse refuses.

import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, MASTER, config, expectParseError, freshClass } from './helpers.mjs';

async function newUser() {
  const user = new Parse.User();
  await user.signUp({ username: `f${randomBytes(5).toString('hex')}`, password: 'pw-files' });
  return user.getSessionToken();
}

const b64 = (text) => Buffer.from(text).toString('base64');

async function fetchBytes(url) {
  const r = await fetch(url); // no keys, as an <img> or <video> fetches it
  return { status: r.status, type: r.headers.get('content-type'), body: Buffer.from(await r.arrayBuffer()) };
}

describe('Parse.File', () => {
  test('from base64: saved by a user, a unique name and a URL served without keys', async () => {
    const sessionToken = await newUser();
    const file = new Parse.File('hello.txt', { base64: b64('hello files') }, 'text/plain');
    await file.save({ sessionToken });
    assert.match(file.name(), /^[0-9a-f]{32}_hello\.txt$/);
    assert.equal(file.url(), `${config.serverURL}/files/${config.appId}/${file.name()}`);
    const got = await fetchBytes(file.url());
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'hello files');
    assert.match(got.type, /^text\/plain/);
  });

  test('from a bytes array and from a data URI', async () => {
    const sessionToken = await newUser();
    const bytes = new Parse.File('bytes.bin', [0, 1, 2, 250, 255]);
    await bytes.save({ sessionToken });
    assert.deepEqual([...(await fetchBytes(bytes.url())).body], [0, 1, 2, 250, 255]);
    const uri = new Parse.File('note.txt', { base64: `data:text/plain;base64,${b64('from a data URI')}` });
    await uri.save({ sessionToken });
    assert.equal((await fetchBytes(uri.url())).body.toString(), 'from a data URI');
  });

  test('attached to an object, read back and getData()', async (t) => {
    const className = freshClass(t, 'SdkFile');
    const file = new Parse.File('doc.txt', { base64: b64('attached') }, 'text/plain');
    await file.save({ useMasterKey: true }); // a fresh object: save() adds to it
    const obj = new Parse.Object(className);
    obj.set('doc', file);
    await obj.save(null, MASTER);
    const back = await new Parse.Query(className).get(obj.id, MASTER);
    const doc = back.get('doc');
    assert.ok(doc instanceof Parse.File);
    assert.equal(doc.name(), file.name());
    assert.equal(doc.url(), file.url());
    assert.equal(Buffer.from(await doc.getData(), 'base64').toString(), 'attached');
  });

  test('destroy needs the master key; a destroyed file is gone', async () => {
    const file = new Parse.File('gone.txt', { base64: b64('bye') }, 'text/plain');
    await file.save({ useMasterKey: true }); // a fresh object: save() adds to it
    const url = file.url();
    // destroy() sends the master key unless told not to (the SDK's default for files).
    // Parse answers 403 {"error": "Permission denied"}, which the SDK rejects with (no code).
    await assert.rejects(file.destroy({ useMasterKey: false }), (e) => e.message === 'Permission denied');
    assert.equal((await fetchBytes(url)).status, 200);
    await file.destroy({ useMasterKey: true });
    assert.equal((await fetchBytes(url)).status, 404);
  });

  test('refused uploads: the public by default, and HTML whoever sends it (130)', async () => {
    const anyone = new Parse.File('a.txt', { base64: b64('x') }, 'text/plain');
    await expectParseError(anyone.save(), 130);
    const sessionToken = await newUser();
    const page = new Parse.File('page.html', { base64: b64('<script></script>') }, 'text/html');
    await expectParseError(page.save({ sessionToken }), 130);
  });
});
