// Makes a test file's process fail, instead of hang, when something its tests opened is still
// open after they all ended (a websocket, a server, a timer): node would otherwise wait for it
// forever. Imported for its effect by helpers.mjs, so every test file that uses the SDK has it.

import net from 'node:net';
import { basename } from 'node:path';
import { after } from 'node:test';

/** How long the process may take to exit by itself once the last test (and hook) ended. */
export const EXIT_GRACE_MS = 5000;

function socketName(socket) {
  const local = `${socket.localAddress}:${socket.localPort}`;
  return `TCP socket ${local} -> ${socket.remoteAddress}:${socket.remotePort}`;
}

/** What keeps the event loop alive: open TCP sockets by address, the rest by kind. */
function holders() {
  const sockets = process
    ._getActiveHandles()
    .filter((h) => h instanceof net.Socket && h.remotePort !== undefined)
    .map(socketName);
  // Resource kinds (Timeout, TCPSocketWrap, ...); the test runner's stdio pipes are not ours.
  const kinds = process.getActiveResourcesInfo().filter((kind) => kind !== 'PipeWrap' && kind !== 'TTYWrap');
  const counts = {};
  for (const kind of kinds) {
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  const summary = Object.entries(counts).map(([kind, n]) => `${kind} x${n}`);
  return [...sockets, ...summary];
}

after(() => {
  const file = basename(process.argv[1] ?? 'this file');
  // unref(): a process that exits by itself never waits for this timer.
  setTimeout(() => {
    process.stderr.write(
      `exit-guard: ${file}: the process is still alive ${EXIT_GRACE_MS} ms after its last test ended; ` +
        `still open: ${holders().join('; ') || '(nothing listed)'}. ` +
        'A test left something open (a LiveQuery client not closed, a socket the SDK replaced ' +
        'without closing, a timer): failing instead of hanging.\n',
      () => process.exit(1),
    );
  }, EXIT_GRACE_MS).unref();
});
