// A node:test reporter for tests/sdk/test_js_sdk.py: one JSON line when a test (or suite)
// starts running and when it ends, so that a failure is named "suite > test" with its error,
// and a file stopped midway names the tests that were still running. Start and end events
// are reported in definition order even when tests run concurrently, so the enclosing suite
// names are a stack indexed by nesting; a test is recognised across events by its key.

import { inspect } from 'node:util';

const key = (data) => `${data.nesting}:${data.line}:${data.column}:${data.name}`;

function describeError(error) {
  if (!error) {
    return undefined;
  }
  // A failing test's error is ERR_TEST_FAILURE; what the test threw is its cause.
  const cause = error.cause ?? error;
  let text = typeof cause === 'string' ? cause : inspect(cause);
  if (cause instanceof Error) {
    text = cause.stack ?? cause.message;
  }
  return { failureType: error.failureType, message: text };
}

function record(fields) {
  return `${JSON.stringify(fields)}\n`;
}

export default async function* resultsReporter(source) {
  const started = [];
  for await (const { type, data } of source) {
    if (type === 'test:dequeue') {
      yield record({ event: 'running', key: key(data), name: data.name, nesting: data.nesting, line: data.line });
    } else if (type === 'test:start') {
      started.length = data.nesting;
      started.push(data.name);
    } else if (type === 'test:pass' || type === 'test:fail') {
      yield record({
        event: type === 'test:pass' ? 'pass' : 'fail',
        key: key(data),
        path: [...started.slice(0, data.nesting), data.name],
        line: data.line,
        suite: data.details?.type === 'suite',
        skip: data.skip !== undefined && data.skip !== false,
        error: describeError(data.details?.error),
      });
    }
  }
}
