// Shared setup for the Parse JS SDK compatibility tests.
//
// The server under test is chosen entirely by the environment so the same
// tests run against a real Parse Server (to prove they encode Parse's actual
// behaviour) and against Parsnip (in CI):
//
//   PARSE_SERVER_URL   e.g. http://127.0.0.1:1337/parse   (required)
//   PARSE_APP_ID       application id                      (required)
//   PARSE_MASTER_KEY   master key                          (required)
//   PARSE_JS_KEY       javascript key                      (optional)
//   PARSE_LIVEQUERY_URL  e.g. ws://127.0.0.1:1337/parse   (optional; defaults to
//                      PARSE_SERVER_URL with http(s) -> ws(s))
//   PARSE_SDK_DROP_CLASSES=1  after each test also delete its (emptied) classes
//                      through the schema API, best effort; handy when
//                      running repeatedly against a long-lived Parse Server

import { randomBytes } from 'node:crypto';
import Parse from 'parse/node';

import './exit-guard.mjs'; // a test file that leaves something open fails instead of hanging

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set; the SDK tests need PARSE_SERVER_URL, PARSE_APP_ID and PARSE_MASTER_KEY`,
    );
  }
  return value;
}

export const config = Object.freeze({
  serverURL: requireEnv('PARSE_SERVER_URL').replace(/\/+$/, ''),
  appId: requireEnv('PARSE_APP_ID'),
  masterKey: requireEnv('PARSE_MASTER_KEY'),
  jsKey: process.env.PARSE_JS_KEY || undefined,
  liveQueryURL: (
    process.env.PARSE_LIVEQUERY_URL || requireEnv('PARSE_SERVER_URL').replace(/^http/, 'ws')
  ).replace(/\/+$/, ''),
});

Parse.initialize(config.appId, config.jsKey, config.masterKey);
Parse.serverURL = config.serverURL;
Parse.liveQueryServerURL = config.liveQueryURL;

export { Parse };

export const MASTER = Object.freeze({ useMasterKey: true });

/** Parse object ids are 10 characters drawn from [A-Za-z0-9]. */
export const OBJECT_ID_RE = /^[A-Za-z0-9]{10}$/;

/**
 * A class name no other test (or earlier run) uses, e.g. "SdkObj_3f9a1c7e2b".
 * Class names must start with a letter and contain only letters, digits and _.
 */
export function uniqueClassName(prefix = 'Sdk') {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * A fresh class name for one test, whose objects are removed (best effort,
 * through the object/batch API only) when the test ends.
 */
export function freshClass(t, prefix) {
  const className = uniqueClassName(prefix);
  t.after(() => removeAllObjects(className));
  return className;
}

export async function removeAllObjects(className) {
  try {
    const objects = await new Parse.Query(className).limit(1000).find(MASTER);
    if (objects.length > 0) {
      await Parse.Object.destroyAll(objects, MASTER);
    }
    if (process.env.PARSE_SDK_DROP_CLASSES === '1') {
      await new Parse.Schema(className).delete();
    }
  } catch {
    // Cleanup must never turn a passing test into a failing one.
  }
}

/** Saves `count` objects of `className`, built by `make(i)` -> attributes. */
export async function saveMany(className, count, make) {
  const objects = [];
  for (let i = 0; i < count; i += 1) {
    objects.push(new Parse.Object(className, make(i)));
  }
  await Parse.Object.saveAll(objects);
  return objects;
}

/** Awaits `promise`, expecting it to reject with a Parse.Error of `code`. */
export async function expectParseError(promise, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (error === undefined) {
    throw new Error(`expected Parse.Error code ${code}, but the call succeeded`);
  }
  if (!(error instanceof Parse.Error)) {
    throw new Error(`expected a Parse.Error with code ${code}, got ${error?.stack ?? error}`);
  }
  if (error.code !== code) {
    throw new Error(
      `expected Parse.Error code ${code}, got code ${error.code}: ${error.message}`,
    );
  }
  return error;
}

/** Sorted values of `key` across `objects`, for order-insensitive checks. */
export function sortedValues(objects, key) {
  return objects.map((o) => o.get(key)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
