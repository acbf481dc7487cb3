// Compares two drive.mjs recordings (Parsnip, Parse Server): per request (all steps together), the statuses
// and Parse error codes, and the top-level keys of JSON answers. Usage: node diff.mjs a.json b.json
import { readFileSync } from 'node:fs';

const norm = p => p.replace(/\/[A-Za-z0-9]{10}(?=\/|$)/g, '/:id').replace(/\/[0-9a-f]{32}_[^/]*/g, '/:file');
const load = f => JSON.parse(readFileSync(f, 'utf8'));
const shape = r => {
  try {
    const j = JSON.parse(r.body);
    if (j && typeof j === 'object' && !Array.isArray(j)) return `${r.status}${j.code ? ' code ' + j.code : ''} {${Object.keys(j).sort().join(',')}}`;
  } catch { /* not JSON */ }
  return `${r.status}`;
};
const summarize = recs => {
  const m = new Map();
  for (const r of recs) {
    // A request cut off by the next navigation says nothing about the server.
    if (r.status === 'failed' || (r.status === 200 && (r.body === '' || r.body === '<unavailable>'))) continue;
    const k = `${r.method} ${norm(r.path)}`;
    if (!m.has(k)) m.set(k, new Set());
    m.get(k).add(shape(r));
  }
  return m;
};
const [a, b] = process.argv.slice(2).map(load);
const ma = summarize(a.records), mb = summarize(b.records);
// Classes that exist on one server only (left by other tests) are not the Dashboard's doing.
const ours = /\/classes\/(Dash|_User|_Role|_Installation|_JobStatus|DashboardConfig)/;
let differing = 0;
for (const k of new Set([...ma.keys(), ...mb.keys()])) {
  const sa = [...(ma.get(k) ?? [])].sort().join(' / '), sb = [...(mb.get(k) ?? [])].sort().join(' / ');
  if (sa === sb) continue;
  if ((!sa || !sb) && k.includes('/classes/') && !ours.test(k)) continue;
  differing += 1;
  console.log(`${k}\n   A: ${sa || '-'}\n   B: ${sb || '-'}`);
}
console.log(`${differing} differing`);
