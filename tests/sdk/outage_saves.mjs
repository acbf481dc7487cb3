// Saves objects through the official JS SDK for DURATION_MS, from WRITERS concurrent
// sequences, and prints one JSON line: every save's outcome. Run by
// tests/api/test_db_outage.py while it stops and starts PostgreSQL, to show what an app sees:
// the SDK retries 5xx answers by itself, so a short outage is ridden out.
import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
const until = Date.now() + Number(process.env.DURATION_MS);
const results = [];

async function sequence(w) {
  for (let i = 0; Date.now() < until; i++) {
    const started = Date.now();
    const object = new Parse.Object('SdkOutage');
    object.set('tag', `${w}-${i}`);
    try {
      await object.save(null, { useMasterKey: true });
      results.push({ tag: `${w}-${i}`, ok: true, ms: Date.now() - started });
    } catch (e) {
      results.push({ tag: `${w}-${i}`, ok: false, code: e.code, error: String(e.message), ms: Date.now() - started });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await Promise.all(Array.from({ length: Number(process.env.WRITERS) }, (_, w) => sequence(w)));
console.log(JSON.stringify(results));
