// Parse.Config through the official Parse JS SDK: save (always with the master key), get with
// and without it, current(), master-key-only parameters, typed values. The configuration is one
// per app and shared with other runs, so each test names its own parameters and deletes them.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { Parse, MASTER, config } from './helpers.mjs';

const HEADERS = {
  'X-Parse-Application-Id': config.appId,
  'Content-Type': 'application/json',
};

/** Parameter names of this test's own, deleted (with their flags) when it ends. */
function names(t, ...bases) {
  const suffix = randomBytes(4).toString('hex');
  const out = bases.map((b) => `${b}_${suffix}`);
  t.after(async () => {
    const gone = Object.fromEntries(out.map((n) => [n, { __op: 'Delete' }]));
    await fetch(`${config.serverURL}/config`, {
      method: 'PUT',
      headers: { ...HEADERS, 'X-Parse-Master-Key': config.masterKey },
      body: JSON.stringify({ params: gone, masterKeyOnly: gone }),
    });
  });
  return out;
}

describe('Parse.Config', () => {
  test('save then get: every value comes back with its type', async (t) => {
    const [num, text, date, point, file, ptr, list, obj, nothing] = names(
      t, 'num', 'text', 'date', 'point', 'file', 'ptr', 'list', 'obj', 'nothing');
    const when = new Date('2024-05-01T10:20:30.400Z');
    const saved = await Parse.Config.save({
      [num]: 42,
      [text]: 'hello',
      [date]: when,
      [point]: new Parse.GeoPoint(12.5, -7.25),
      [file]: Parse.File.fromJSON({ __type: 'File', name: 'cfg.txt', url: 'http://files.example/cfg.txt' }),
      [ptr]: Parse.Object.fromJSON({ className: 'CfgTarget', objectId: 'abcdefghij' }).toPointer(),
      [list]: [1, 'two', when, { deep: [true] }],
      [obj]: { a: { b: 1 } },
      [nothing]: null,
    });
    assert.equal(saved.get(num), 42);

    const got = await Parse.Config.get();
    assert.equal(got.get(num), 42);
    assert.equal(got.get(text), 'hello');
    assert.ok(got.get(date) instanceof Date);
    assert.equal(got.get(date).toISOString(), when.toISOString());
    assert.ok(got.get(point) instanceof Parse.GeoPoint);
    assert.deepEqual([got.get(point).latitude, got.get(point).longitude], [12.5, -7.25]);
    assert.ok(got.get(file) instanceof Parse.File);
    assert.equal(got.get(file).name(), 'cfg.txt');
    assert.equal(got.get(file).url(), 'http://files.example/cfg.txt');
    assert.ok(got.get(ptr) instanceof Parse.Object);
    assert.deepEqual([got.get(ptr).className, got.get(ptr).id], ['CfgTarget', 'abcdefghij']);
    assert.equal(got.get(list)[3].deep[0], true);
    assert.equal(got.get(list)[2].toISOString(), when.toISOString());
    assert.deepEqual(got.get(obj), { a: { b: 1 } });
    assert.equal(got.get(nothing), null);
    assert.equal(got.escape(text), 'hello');
  });

  test('master-key-only parameters are hidden from clients, not from the master key', async (t) => {
    const [open, secret] = names(t, 'open', 'secret');
    const saved = await Parse.Config.save({ [open]: 'everyone', [secret]: 'master' }, { [secret]: true });
    assert.equal(saved.get(secret), 'master'); // save() reads back with the master key

    const client = await Parse.Config.get();
    assert.equal(client.get(open), 'everyone');
    assert.equal(client.get(secret), undefined);

    const master = await Parse.Config.get(MASTER);
    assert.equal(master.get(secret), 'master');

    const raw = await (await fetch(`${config.serverURL}/config`, { headers: HEADERS })).json();
    assert.equal(raw.masterKeyOnly[open], false);
    assert.ok(!(secret in raw.params) && !(secret in raw.masterKeyOnly));
  });

  test('a save keeps the parameters it does not name, and a Delete removes one', async (t) => {
    const [kept, changed] = names(t, 'kept', 'changed');
    await Parse.Config.save({ [kept]: 1, [changed]: 'a' });
    await Parse.Config.save({ [changed]: 'b' });
    let got = await Parse.Config.get();
    assert.deepEqual([got.get(kept), got.get(changed)], [1, 'b']);

    await Parse.Config.save({ [changed]: new Parse.Op.Unset() });
    got = await Parse.Config.get();
    assert.equal(got.get(kept), 1);
    assert.equal(got.get(changed), undefined);
  });

  test('current() gives the configuration last fetched', async (t) => {
    const [mark] = names(t, 'mark');
    await Parse.Config.save({ [mark]: 'now' });
    const fetched = await Parse.Config.get();
    const current = await Parse.Config.current();
    assert.equal(current.get(mark), 'now');
    assert.deepEqual(current.attributes, fetched.attributes);
  });

  test('a client without the master key cannot change it', async (t) => {
    const [x] = names(t, 'x');
    const r = await fetch(`${config.serverURL}/config`, {
      method: 'PUT', headers: HEADERS, body: JSON.stringify({ params: { [x]: 1 } }),
    });
    assert.equal(r.status, 403);
    assert.deepEqual(await r.json(), { error: 'Permission denied' });
    assert.equal((await Parse.Config.get()).get(x), undefined);
  });
});
