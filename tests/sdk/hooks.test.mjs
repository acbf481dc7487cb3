// Webhooks through the official Parse JS SDK (Parse.Hooks, which is what the Parse Dashboard's
// Webhooks section calls): create, read, update and remove function and trigger webhooks, and
// the server calling them. The webhook endpoint is an HTTP server this file starts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { Parse, MASTER, expectParseError, uniqueClassName } from './helpers.mjs';

const received = [];
let endpoint;
let baseURL;

before(async () => {
  endpoint = createServer((req, res) => {
    let raw = '';
    req.on('data', chunk => { raw += chunk; });
    req.on('end', () => {
      const body = JSON.parse(raw || 'null');
      received.push({ path: req.url, body });
      let answer = { success: null };
      if (req.url === '/greet') answer = { success: `hi ${body.params.name}` };
      if (req.url === '/refuse') answer = { error: 'refused by webhook' };
      if (req.url === '/shout') answer = { success: { ...body.object, text: String(body.object.text).toUpperCase() } };
      res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise(resolve => endpoint.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${endpoint.address().port}`;
});

after(async () => {
  endpoint.closeAllConnections();
  await new Promise(resolve => endpoint.close(resolve));
});

const unique = prefix => uniqueClassName(prefix);

describe('Parse.Hooks functions', () => {
  test('create, get, list, call, update and remove a function webhook', async () => {
    const name = unique('greet');
    assert.deepEqual(await Parse.Hooks.createFunction(name, `${baseURL}/greet`),
      { functionName: name, url: `${baseURL}/greet` });
    assert.deepEqual(await Parse.Hooks.getFunction(name), { functionName: name, url: `${baseURL}/greet` });
    assert.ok((await Parse.Hooks.getFunctions()).some(h => h.functionName === name));
    assert.equal(await Parse.Cloud.run(name, { name: 'Ada' }), 'hi Ada');
    const call = received.filter(r => r.path === '/greet').at(-1);
    assert.equal(call.body.functionName, name);
    assert.deepEqual(call.body.params, { name: 'Ada' });
    assert.deepEqual(await Parse.Hooks.updateFunction(name, `${baseURL}/refuse`),
      { functionName: name, url: `${baseURL}/refuse` });
    const err = await expectParseError(Parse.Cloud.run(name), 141);
    assert.equal(err.message, 'refused by webhook');
    await Parse.Hooks.removeFunction(name);
    await expectParseError(Parse.Hooks.getFunction(name), 143);
  });

  test('a second function of the same name is 143', async () => {
    const name = unique('twice');
    await Parse.Hooks.createFunction(name, `${baseURL}/greet`);
    try {
      const err = await expectParseError(Parse.Hooks.createFunction(name, `${baseURL}/greet`), 143);
      assert.equal(err.message, `function name: ${name} already exists`);
    } finally {
      await Parse.Hooks.removeFunction(name);
    }
  });
});

describe('Parse.Hooks triggers', () => {
  test('a beforeSave webhook changes what is saved; removed, it no longer runs', async () => {
    const className = unique('Shout');
    assert.deepEqual(await Parse.Hooks.createTrigger(className, 'beforeSave', `${baseURL}/shout`),
      { className, triggerName: 'beforeSave', url: `${baseURL}/shout` });
    assert.deepEqual(await Parse.Hooks.getTrigger(className, 'beforeSave'),
      { className, triggerName: 'beforeSave', url: `${baseURL}/shout` });
    assert.ok((await Parse.Hooks.getTriggers()).some(h => h.className === className));
    const saved = await new Parse.Object(className).save({ text: 'quiet' });
    assert.equal(saved.get('text'), 'QUIET');
    const fetched = await new Parse.Query(className).get(saved.id, MASTER);
    assert.equal(fetched.get('text'), 'QUIET');
    await Parse.Hooks.removeTrigger(className, 'beforeSave');
    const err = await expectParseError(Parse.Hooks.getTrigger(className, 'beforeSave'), 143);
    assert.equal(err.message, `class ${className} does not exist`);
    const plain = await new Parse.Object(className).save({ text: 'quiet' });
    assert.equal(plain.get('text'), 'quiet');
    await Parse.Object.destroyAll([saved, plain], MASTER);
  });

  test('a beforeSave webhook error refuses the save with 141', async () => {
    const className = unique('Refuse');
    await Parse.Hooks.createTrigger(className, 'beforeSave', `${baseURL}/refuse`);
    try {
      const err = await expectParseError(new Parse.Object(className).save({ a: 1 }), 141);
      assert.equal(err.message, 'refused by webhook');
    } finally {
      await Parse.Hooks.removeTrigger(className, 'beforeSave');
    }
  });
});
