// Drives the official Parse Dashboard (npm parse-dashboard 9.x) in headless Chromium and records
// every request it makes to the Parse server, so two runs (Parsnip, Parse Server) can be diffed.
// Usage: node drive.mjs <dashboardURL> <appName> <parseServerURL> <out.json>
// Needs playwright-core in $DASH_MODULES (a node_modules folder) or next to this file, and a
// Chromium at $CHROMIUM (default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(process.env.DASH_MODULES ? `${process.env.DASH_MODULES}/` : import.meta.url);
const { chromium } = require('playwright-core');

const [dashURL, appName, serverURL, outFile] = process.argv.slice(2);
const APP = process.env.APP_ID ?? 'APP';
const MASTER = process.env.MASTER_KEY ?? 'MASTER';
const CLASS = process.env.DASH_CLASS ?? 'DashAll';
const records = [];
const steps = [];
let step = 'start';

async function rest(method, path, body) {
  const res = await fetch(serverURL + path, {
    method,
    headers: { 'X-Parse-Application-Id': APP, 'X-Parse-Master-Key': MASTER, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}

async function seed() {
  // A class with every field type and one row, the same on both servers.
  await rest('DELETE', `/classes/${CLASS}Target`).catch(() => {});
  for (const name of [CLASS, `${CLASS}Target`, 'DashNew']) {
    const rows = JSON.parse((await rest('GET', `/classes/${name}?limit=1000`)).body).results ?? [];
    for (const row of rows) await rest('DELETE', `/classes/${name}/${row.objectId}`);
    await rest('DELETE', `/schemas/${name}`);
  }
  await rest('POST', '/schemas/' + `${CLASS}Target`, { className: `${CLASS}Target`, fields: { label: { type: 'String' } } });
  const target = JSON.parse((await rest('POST', `/classes/${CLASS}Target`, { label: 't1' })).body);
  await rest('POST', '/schemas/' + CLASS, {
    className: CLASS,
    fields: {
      str: { type: 'String' }, num: { type: 'Number' }, flag: { type: 'Boolean' }, when: { type: 'Date' },
      obj: { type: 'Object' }, arr: { type: 'Array' }, geo: { type: 'GeoPoint' }, poly: { type: 'Polygon' },
      file: { type: 'File' }, ptr: { type: 'Pointer', targetClass: `${CLASS}Target` },
      rel: { type: 'Relation', targetClass: `${CLASS}Target` }, bytes: { type: 'Bytes' },
      req: { type: 'String', required: false, defaultValue: 'dflt' },
    },
  });
  const up = await fetch(serverURL + '/files/seed.txt', {
    method: 'POST', headers: { 'X-Parse-Application-Id': APP, 'X-Parse-Master-Key': MASTER, 'Content-Type': 'text/plain' }, body: 'seed',
  });
  const file = await up.json();
  await rest('POST', `/classes/${CLASS}`, {
    str: 'hello', num: 42, flag: true, when: { __type: 'Date', iso: '2024-01-02T03:04:05.000Z' },
    obj: { a: 1 }, arr: [1, 'two'], geo: { __type: 'GeoPoint', latitude: 1, longitude: 2 },
    poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1], [0, 0]] },
    file: { __type: 'File', name: file.name, url: file.url },
    ptr: { __type: 'Pointer', className: `${CLASS}Target`, objectId: target.objectId },
    rel: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: `${CLASS}Target`, objectId: target.objectId }] },
    bytes: { __type: 'Bytes', base64: 'aGVsbG8=' },
  });
  await rest('PUT', '/hooks/functions/dashHook', { __op: 'Delete' });
  // (a null config value makes the Dashboard's Config page throw, on either server)
  await rest('PUT', '/config', { params: { dashSeed: 'x' }, masterKeyOnly: { dashSeed: false } });
}

// A step is the UI action, then `check`: what the server must hold afterwards, read over REST,
// so a click that did nothing fails its step.
async function attempt(name, fn, check) {
  step = name;
  try {
    await fn();
    if (check) await check();
    steps.push({ step: name, ok: true });
  } catch (e) {
    steps.push({ step: name, ok: false, error: String(e).split('\n')[0] });
  }
}

const json = async (method, path, body) => {
  const res = await rest(method, path, body);
  return { status: res.status, body: JSON.parse(res.body || 'null') };
};
const expect = (cond, what) => { if (!cond) throw new Error(`check failed: ${what}`); };
const rows = async name => (await json('GET', `/classes/${name}?limit=1000`)).body.results ?? [];
const schemaOf = async name => json('GET', `/schemas/${name}`);
const config = async () => (await json('GET', '/config')).body;

await seed();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true });
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
page.setDefaultTimeout(8000);
const origin = new URL(serverURL);
page.on('response', async response => {
  const req = response.request();
  const url = new URL(req.url());
  if (url.host !== origin.host || req.method() === 'OPTIONS') return;
  let body = '';
  try { body = (await response.text()).slice(0, 200000); } catch { body = '<unavailable>'; }
  let post = req.postData() ?? '';
  let method = req.method();
  try {
    // The JS SDK sends every call as POST with the real verb and the keys in the JSON body.
    const parsed = JSON.parse(post);
    if (parsed && typeof parsed === 'object' && parsed._method) method = parsed._method;
    for (const k of ['_method', '_ApplicationId', '_MasterKey', '_ClientVersion', '_InstallationId', '_JavaScriptKey']) delete parsed[k];
    post = JSON.stringify(parsed);
  } catch { /* not JSON (file bytes) */ }
  records.push({ step, method, path: url.pathname.replace(origin.pathname, ''), search: url.search,
    postData: post.slice(0, 4000), status: response.status(), body });
});
page.on('requestfailed', req => {
  const url = new URL(req.url());
  if (url.host !== origin.host) return;
  records.push({ step, method: req.method(), path: url.pathname.replace(origin.pathname, ''), status: 'failed', postData: '', body: req.failure()?.errorText ?? '' });
});
page.on('pageerror', e => records.push({ step, method: 'PAGEERROR', path: '', postData: '', status: 'error', body: String(e).slice(0, 300) }));

const app = `${dashURL}/apps/${appName}`;
const settle = () => page.waitForTimeout(1500);
const go = async path => { await page.goto(app + path, { waitUntil: 'networkidle' }); await settle(); };
const shot = name => process.env.SHOTS ? page.screenshot({ path: `${process.env.SHOTS}/${name}.png` }) : null;

await attempt('open browser', () => go(`/browser/${CLASS}`));
await attempt('open _User', () => go('/browser/_User'));
await attempt('open _Role', () => go('/browser/_Role'));
await attempt('open _Installation', () => go('/browser/_Installation'));
await attempt('open class with data', () => go(`/browser/${CLASS}`));
const menu = async item => {
  await page.getByText('Edit', { exact: true }).first().click();
  await page.getByText(item, { exact: true }).first().click();
  await settle();
};
const placeholder = () => page.getByPlaceholder('Give it a good name...');
await attempt('add row', async () => {
  await go(`/browser/${CLASS}`);
  await page.getByText('Add Row', { exact: true }).first().click();
  await settle();
  // The new, unsaved row is the first; typing into its num cell and Enter saves it.
  const header = await page.getByText('num', { exact: true }).first().boundingBox();
  const first = await page.locator('input[type=checkbox]').nth(1).boundingBox();
  await page.mouse.dblclick(header.x + 10, first.y + first.height / 2);
  await page.keyboard.type('7');
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Add', exact: true }).first().click();
  await settle();
}, async () => expect((await rows(CLASS)).some(r => r.num === 7), 'a row with num 7'));
await attempt('edit cell', async () => {
  await go(`/browser/${CLASS}`);
  await page.getByText('42', { exact: true }).first().dblclick();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('43');
  await page.keyboard.press('Enter');
  await settle();
}, async () => {
  const nums = (await rows(CLASS)).map(r => r.num);
  expect(nums.includes(43) && !nums.includes(42), `num 42 became 43 (${nums})`);
});
await attempt('add column', async () => {
  await go(`/browser/${CLASS}`);
  await menu('Add a column');
  await placeholder().fill('dashCol');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await settle();
}, async () => expect((await schemaOf(CLASS)).body.fields.dashCol, 'a column dashCol'));
await attempt('upload file', async () => {
  await go(`/browser/${CLASS}`);
  const header = page.getByText('file', { exact: true }).first();
  await header.scrollIntoViewIfNeeded();
  const box = await header.boundingBox();
  const row = await page.getByText('43', { exact: true }).first().boundingBox();
  await page.mouse.dblclick(box.x + 10, row.y + row.height / 2);
  await settle();
  await shot('upload');
  const inputs = page.locator('input[type=file]');
  if (await inputs.count() === 0) throw new Error('no file input');
  await inputs.first().setInputFiles({ name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello dashboard') });
  await settle();
}, async () => {
  const row = (await rows(CLASS)).find(r => r.num === 43);
  expect(row?.file?.name?.endsWith('hello.txt'), `the row's file is hello.txt (${JSON.stringify(row?.file)})`);
  expect(await (await fetch(row.file.url)).text() === 'hello dashboard', 'the file serves its bytes');
});
await attempt('delete column', async () => {
  await go(`/browser/${CLASS}`);
  await menu('Delete a column');
  await shot('delete-column');
  await page.getByText('Select a column', { exact: true }).click();
  await page.getByText('dashCol', { exact: true }).last().click();
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await settle();
}, async () => expect(!(await schemaOf(CLASS)).body.fields.dashCol, 'dashCol removed'));
await attempt('create class', async () => {
  await go(`/browser/${CLASS}`);
  await menu('Add a class');
  await placeholder().fill('DashNew');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await settle();
}, async () => expect((await schemaOf('DashNew')).status === 200, 'class DashNew exists'));
await attempt('CLP', async () => {
  await go(`/browser/${CLASS}`);
  await page.getByText('Security', { exact: true }).first().click();
  await settle();
  await shot('security');
  await page.getByText('Class Level Permissions', { exact: true }).first().click();
  await settle();
  // Untick the Public row's "Add field" box, which sits just right of its label.
  const addField = await page.getByText('Add field', { exact: true }).first().boundingBox();
  await page.mouse.click(addField.x + addField.width + 16, addField.y + addField.height / 2);
  await page.getByRole('button', { name: /Save/i }).last().click();
  await settle();
}, async () => {
  const clp = (await schemaOf(CLASS)).body.classLevelPermissions;
  expect(clp.get['*'] && !clp.addField['*'], `public add field off (${JSON.stringify(clp)})`);
});
await attempt('delete row', async () => {
  await go(`/browser/${CLASS}`);
  await page.locator('input[type=checkbox]').nth(1).check({ force: true });
  await menu('Delete this row');
  await page.getByRole('button', { name: /Delete/ }).last().click();
  await settle();
}, async () => expect((await rows(CLASS)).length === 1, 'one of two rows left'));
await attempt('drop class', async () => {
  await go('/browser/DashNew');
  await menu('Delete this class');
  await shot('drop-class');
  await page.locator('input').last().fill('DashNew');
  await page.getByRole('button', { name: /Delete|Drop/ }).last().click();
  await settle();
}, async () => expect((await schemaOf('DashNew')).status >= 400, 'class DashNew dropped'));
await attempt('config', () => go('/config'));
const toggleMasterKeyOnly = async () => {
  // The Dashboard's toggle is a bare div between its "No" and "Yes" labels.
  const no = await page.getByText('No', { exact: true }).last().boundingBox();
  const yes = await page.getByText('Yes', { exact: true }).last().boundingBox();
  await page.mouse.click((no.x + no.width + yes.x) / 2, no.y + no.height / 2);
};
await attempt('config add master-key-only', async () => {
  await go('/config');
  await page.getByText('Create a parameter', { exact: true }).first().click();
  await settle();
  await page.locator('input[type=text]').first().fill('dashNew');
  await page.locator('textarea').first().fill('v1');
  await toggleMasterKeyOnly();
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await settle();
}, async () => {
  const c = await config();
  expect(c.params.dashNew === 'v1' && c.masterKeyOnly?.dashNew === true, `dashNew master-key-only (${JSON.stringify(c)})`);
});
await attempt('config edit', async () => {
  await go('/config');
  await page.getByText('dashSeed', { exact: true }).click();
  await settle();
  await page.locator('textarea').first().fill('y');
  await shot('config-edit');
  await page.getByRole('button', { name: /Save/ }).click();
  await settle();
}, async () => expect((await config()).params.dashSeed === 'y', 'dashSeed is y'));
await attempt('config delete', async () => {
  await go('/config');
  await shot('config-before-delete');
  const row = await page.getByText('dashNew', { exact: true }).boundingBox();
  const vw = page.viewportSize().width;
  await page.mouse.click(vw - 32, row.y + row.height / 2);
  await settle();
  await page.locator('input[type=text]').last().fill('dashNew');
  await page.getByRole('button', { name: 'Delete', exact: true }).last().click();
  await settle();
}, async () => expect(!('dashNew' in (await config()).params), 'dashNew deleted'));
await attempt('jobs', () => go('/jobs'));
await attempt('jobs all', () => go('/jobs/all'));
// sdkJob is in tests/sdk/cloud (main.py for Parsnip, its twin main.js for Parse Server).
await attempt('job run', async () => {
  await page.locator('tr', { hasText: 'sdkJob' }).getByText('Run...').click();
  await settle();
  await page.locator('textarea').last().fill('{"n": 1, "when": {"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}}');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await settle();
}, async () => {
  for (let i = 0; i < 50; i += 1) {
    const jobs = (await json('GET', '/classes/_JobStatus?where=' + encodeURIComponent('{"jobName":"sdkJob"}'))).body.results ?? [];
    // The Dashboard sends its form as the job's params ({description, input, jobName, when: 0}),
    // so the job sees no `n` and the epoch.
    if (jobs.some(j => j.status === 'succeeded' && j.message === 'done undefined 1970')) return;
    await new Promise(r => setTimeout(r, 200));
  }
  throw new Error('check failed: sdkJob succeeded with "done undefined 1970"');
});
await attempt('jobs scheduled', () => go('/jobs/scheduled'));
await attempt('jobs status', () => go('/jobs/status'));
await attempt('webhooks', () => go('/webhooks'));
await attempt('webhook create', async () => {
  await page.getByText('Create a webhook', { exact: true }).first().click();
  await settle();
  await shot('webhook-create');
  const inputs = page.locator('input[type=text]');
  await inputs.first().fill('dashHook');
  await inputs.last().fill('https://example.com/dash-hook');
  await page.getByRole('button', { name: /Create/ }).last().click();
  await settle();
}, async () => expect((await json('GET', '/hooks/functions/dashHook')).body?.url === 'https://example.com/dash-hook', 'webhook dashHook stored'));
await attempt('logs info', () => go('/logs/info'));
await attempt('logs error', () => go('/logs/error'));
await attempt('cloud code', () => go('/cloud_code'));
await attempt('api console', () => go('/api_console'));
await attempt('settings', () => go('/settings/general'));
await browser.close();
writeFileSync(outFile, JSON.stringify({ steps, records }, null, 1));
console.log(`${records.length} requests, steps: ${steps.map(s => `${s.step}:${s.ok ? 'ok' : 'FAIL ' + s.error}`).join('; ')}`);
