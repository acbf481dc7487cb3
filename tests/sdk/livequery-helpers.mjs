// Helpers for the LiveQuery tests: clients that record the frames the server sent (for
// failure messages), subscriptions whose events are recorded and awaited with timeouts,
// and the "sentinel" pattern for asserting that something was NOT delivered.

import { setTimeout as sleep } from 'node:timers/promises';

import { Parse, config } from './helpers.mjs';

/** How long to wait for an event that must arrive. */
export const EVENT_TIMEOUT_MS = 5000;
/** How long to keep listening, after a sentinel arrived, for events that must not. */
export const SETTLE_MS = 600;

const SUBSCRIPTION_EVENTS = ['open', 'close', 'error', 'create', 'update', 'enter', 'leave', 'delete'];
const MAX_FRAMES = 60;

export { sleep };

export function settle(ms = SETTLE_MS) {
  return sleep(ms);
}

export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the last frames `client` received on each of its sockets (the SDK replaces the
 * socket when it reconnects), in `client.frames`, for failure messages.
 */
export function tapFrames(client) {
  if (client.frames) {
    return client;
  }
  client.frames = [];
  const attach = () => {
    const socket = client.socket;
    if (!socket || socket.__tapped || typeof socket.on !== 'function') {
      return;
    }
    socket.__tapped = true;
    socket.on('message', (data) => {
      client.frames.push(String(data));
      if (client.frames.length > MAX_FRAMES) {
        client.frames.shift();
      }
    });
  };
  const open = client.open.bind(client);
  client.open = () => {
    open();
    attach();
  };
  attach();
  return client;
}

/** The SDK's default LiveQuery client (the one `query.subscribe()` uses), tapped. */
export async function defaultClient() {
  const client = await Parse.CoreManager.getLiveQueryController().getDefaultLiveQueryClient();
  return tapFrames(client);
}

/**
 * Creates the default LiveQuery client the way a browser app gets it: without a master key
 * (helpers.mjs initialised Parse with one, for the REST calls that pass useMasterKey, and
 * the SDK would put it in the LiveQuery `connect` message too).
 */
export async function createKeylessDefaultClient() {
  const masterKey = Parse.masterKey;
  Parse.masterKey = undefined;
  try {
    return await defaultClient();
  } finally {
    Parse.masterKey = masterKey;
  }
}

/**
 * A new `Parse.LiveQueryClient` on the server under test, opened, closed when `t` ends.
 * `options` may carry sessionToken / masterKey / installationId.
 */
export function openClient(t, options = {}) {
  const client = new Parse.LiveQueryClient({
    applicationId: config.appId,
    serverURL: config.liveQueryURL,
    javascriptKey: config.jsKey,
    ...options,
  });
  tapFrames(client);
  client.open();
  t.after(() => closeClient(client));
  return client;
}

export async function closeClient(client) {
  // A reconnect timer left pending would reopen a closed client (the SDK does not cancel it).
  clearTimeout(client.reconnectHandle);
  try {
    await withTimeout(client.close() ?? Promise.resolve(), 2000, 'the client to close');
  } catch {
    // Closing is cleanup; it must not fail a test.
  }
  clearTimeout(client.reconnectHandle);
}

/** One event as the SDK emitted it, normalised. */
function normalise(name, args) {
  const event = { name, args };
  if (['create', 'update', 'enter', 'leave', 'delete'].includes(name)) {
    event.object = args[0];
    if (args[1] instanceof Parse.Object) {
      event.original = args[1];
      event.response = args[2];
    } else {
      event.response = args[1];
    }
  } else if (name === 'open') {
    event.response = args[0];
  } else if (name === 'error') {
    event.error = args[0];
  }
  return event;
}

function describeEvent(e) {
  if (e.object) {
    const fields = JSON.stringify(e.object.attributes);
    return `${e.name}(${e.object.id} ${fields}${e.original ? ' original=' + JSON.stringify(e.original.attributes) : ''})`;
  }
  if (e.name === 'error') {
    return `error(${typeof e.error === 'string' ? e.error : e.error?.message ?? e.error})`;
  }
  return e.name;
}

/** Records every event of a subscription; events can be awaited in any order. */
export class Recorder {
  constructor(subscription, client, label = 'subscription') {
    this.subscription = subscription;
    this.client = client;
    this.label = label;
    this.events = [];
    this.consumed = new Set();
    this.waiters = [];
    for (const name of SUBSCRIPTION_EVENTS) {
      subscription.on(name, (...args) => this._record(normalise(name, args)));
    }
  }

  _record(event) {
    this.events.push(event);
    this._wake();
  }

  _wake() {
    for (const waiter of [...this.waiters]) {
      const found = this.events.find(
        (e) => !this.consumed.has(e) && e.name === waiter.name && waiter.pred(e),
      );
      if (found) {
        this.consumed.add(found);
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  }

  /**
   * The first not yet awaited event `name` for which `pred(event)` holds, already received
   * or still to come; fails after `ms`, listing what did arrive and the server's frames.
   */
  async waitFor(name, pred = () => true, ms = EVENT_TIMEOUT_MS) {
    let waiter;
    const promise = new Promise((resolve) => {
      waiter = { name, pred, resolve };
      this.waiters.push(waiter);
      this._wake();
    });
    try {
      return await withTimeout(promise, ms, `'${name}' on ${this.label}`);
    } catch (error) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      error.message += `\n${this.report()}`;
      throw error;
    }
  }

  /** Waits for the event about the object with id `id`. */
  waitForObject(name, id, ms = EVENT_TIMEOUT_MS) {
    return this.waitFor(name, (e) => e.object?.id === id, ms);
  }

  of(name) {
    return this.events.filter((e) => e.name === name);
  }

  ids(name) {
    return this.of(name).map((e) => e.object.id);
  }

  /** The object events received, as "name:id", in order of arrival. */
  objectEvents() {
    return this.events.filter((e) => e.object).map((e) => `${e.name}:${e.object.id}`);
  }

  report() {
    const events = this.events.map(describeEvent).join('\n  ') || '(none)';
    const frames = this.client?.frames?.slice(-20).join('\n  ') || '(not recorded)';
    return `events on ${this.label}:\n  ${events}\nlast frames from the server:\n  ${frames}`;
  }
}

/** Subscribes `query` on `client` and waits for the server's `subscribed`. */
export async function subscribeOn(client, query, sessionToken, label) {
  const subscription = client.subscribe(query, sessionToken);
  const recorder = new Recorder(subscription, client, label ?? `${query.className} subscription`);
  try {
    await withTimeout(subscription.subscribePromise, EVENT_TIMEOUT_MS, `'subscribed' for ${recorder.label}`);
  } catch (error) {
    error.message += `\n${recorder.report()}`;
    throw error;
  }
  return recorder;
}

/**
 * `query.subscribe()` on the SDK's default client, recorded; unsubscribed (best effort)
 * when `t` ends.
 */
export async function subscribeDefault(t, query, sessionToken, label) {
  const client = await defaultClient();
  const subscription = await withTimeout(
    query.subscribe(sessionToken),
    EVENT_TIMEOUT_MS,
    `query.subscribe() on ${query.className}`,
  );
  const recorder = new Recorder(subscription, client, label ?? `${query.className} subscription`);
  t.after(async () => {
    // After a close() the client reuses request ids, so only a subscription the client
    // still holds is unsubscribed (else a stale id could end a later test's subscription).
    if (client.subscriptions.get(subscription.id) !== subscription) {
      return;
    }
    try {
      await withTimeout(subscription.unsubscribe(), 2000, 'unsubscribe');
    } catch {
      // cleanup only
    }
  });
  return recorder;
}

/** The `error` frames the server sent to `client` (for `requestId`, when given), parsed. */
export function errorFrames(client, requestId) {
  return (client.frames ?? [])
    .map((f) => {
      try {
        return JSON.parse(f);
      } catch {
        return null;
      }
    })
    .filter((f) => f?.op === 'error' && (requestId === undefined || f.requestId === requestId));
}

/** An assertion message tail with what a recorder saw. */
export function seen(recorder) {
  return `\n${recorder.report()}`;
}
