"""The SDK test runner itself: a failing JS test is named with its suite and error, a file
that leaves something open fails (exit-guard.mjs) instead of hanging, and one that runs past
its time limit is killed with the test still running named. Needs node, not a server."""

from __future__ import annotations

from pathlib import Path

from tests.sdk.node_runner import SDK_DIR, failure_message, require_tools, run_file

EXIT_GUARD = (SDK_DIR / "exit-guard.mjs").as_uri()


def _run(tmp_path: Path, body: str, file_timeout_s: float = 60):
    node, _ = require_tools()
    test_file = tmp_path / "sample.test.mjs"
    test_file.write_text("import { describe, test } from 'node:test';\n"
                         "import assert from 'node:assert/strict';\n"
                         f"import '{EXIT_GUARD}';\n" + body)
    run = run_file(node, test_file, {"PATH": "/usr/bin:/bin:/usr/local/bin"}, 30_000, file_timeout_s)
    return run, failure_message(run, "http://server")


def test_a_failing_test_is_named_with_its_suite_line_and_error(tmp_path: Path) -> None:
    run, message = _run(tmp_path, """
describe('outer', () => {
  test('passes', () => {});
  describe('inner', { concurrency: true }, () => {
    test('also passes', async () => {});
    test('compares', () => { assert.equal(1, 2, 'one is not two'); });
  });
});
""")
    assert run.returncode == 1
    assert message is not None
    headline, first, *rest = message.splitlines()
    assert headline == "sample.test.mjs against http://server: 1 of 3 tests failed, 2 passed"
    assert first == "✖ outer > inner > compares (sample.test.mjs:9)"
    assert "one is not two" in rest[0]
    assert "--- node --test output for sample.test.mjs ---" in message


def test_a_file_that_leaves_a_socket_open_fails_naming_it(tmp_path: Path) -> None:
    run, message = _run(tmp_path, """
import net from 'node:net';
test('listens and never closes', () => { net.createServer().listen(0, '127.0.0.1'); });
""")
    assert run.returncode == 1 and run.passed() == 1
    assert message is not None
    assert "the file's process exited with code 1 although no test failed" in message
    assert "exit-guard: sample.test.mjs: the process is still alive" in message
    assert "TCPServerWrap x1" in message


def test_a_file_past_its_time_limit_is_killed_naming_the_running_test(tmp_path: Path) -> None:
    run, message = _run(tmp_path, """
test('quick', () => {});
test('waits forever', () => new Promise(() => { setInterval(() => {}, 1000); }));
""", file_timeout_s=3)
    assert run.timed_out
    assert message is not None
    assert "node did not finish within 3 s; pytest killed it; still running then:" in message
    assert "  - waits forever (sample.test.mjs:6)" in message.splitlines()


def test_a_clean_file_passes(tmp_path: Path) -> None:
    run, message = _run(tmp_path, "test('fine', () => {});\n")
    assert (run.returncode, message) == (0, None)
