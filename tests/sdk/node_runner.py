"""Node.js for the SDK tests: finding node and npm, installing the SDK, and running one test
file under `node --test` with its per-test results read back (results-reporter.mjs), so a
failure can name its file and test, and a file that would hang is killed and named instead."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parent
RESULTS_REPORTER = SDK_DIR / "results-reporter.mjs"

NPM_TIMEOUT_S = 600
# A suite fails with one of these when its tests failed or were cancelled, which are listed.
_BY_THEIR_TESTS = ("subtestsFailed", "cancelledByParent")
_ERROR_LINES = 25  # of each failure's error in the headline; the full text is in node's output


def require_tools() -> tuple[str, str]:
    """The paths of node and npm; skips the test without them (fails it when CI is set)."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm)) if path is None]
    if missing:
        message = (
            f"{' and '.join(missing)} not found on PATH: the Parse JS SDK "
            "compatibility tests need Node.js (>= 20.19) and npm"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
        pytest.skip(message)
    return node, npm  # type: ignore[return-value]


def _install_is_stale(folder: Path) -> bool:
    # npm ci / npm install write node_modules/.package-lock.json last; it marks a finished install.
    marker = folder / "node_modules" / ".package-lock.json"
    if not marker.exists():
        return True
    return marker.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime


def ensure_node_modules(npm: str, folder: Path = SDK_DIR) -> None:
    """`npm ci` in `folder` (tests/sdk by default) unless its node_modules is as new as its lockfile."""
    if not _install_is_stale(folder):
        return
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` in {folder} failed with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


@dataclass
class FileRun:
    """What `node --test` did with one test file."""

    file: Path
    returncode: int | None  # None: killed after the file's time limit
    time_limit_s: float
    output: str  # node's spec report (with the tests' own stderr)
    records: list[dict] = field(default_factory=list)  # results-reporter.mjs's lines

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def _ended(self) -> list[dict]:
        return [r for r in self.records if r["event"] in ("pass", "fail")]

    def _is_file_record(self, record: dict) -> bool:
        return record["path"] == [str(self.file)]

    def file_record(self) -> dict | None:
        """The record node adds for the file's own process (it fails when the process does)."""
        return next((r for r in self._ended() if self._is_file_record(r)), None)

    def passed(self) -> int:
        return sum(1 for r in self._ended() if r["event"] == "pass" and not r["suite"] and not r["skip"])

    def tests(self) -> int:
        """Tests that ended (not suites, nor the file's own record)."""
        return sum(1 for r in self._ended() if not r["suite"] and not self._is_file_record(r))

    def failures(self) -> list[dict]:
        """Failed tests, and suites whose own hook failed (not those failed by their tests)."""
        return [r for r in self._ended() if r["event"] == "fail" and not self._is_file_record(r)
                and not (r["suite"] and (r["error"] or {}).get("failureType") in _BY_THEIR_TESTS)]

    def unfinished(self) -> list[str]:
        """The innermost tests that had started running and never ended, as "name (line)"."""
        ended = {r["key"] for r in self._ended()}
        running = [r for r in self.records if r["event"] == "running" and r["key"] not in ended
                   and r["name"] != str(self.file)]
        # A suite runs while its tests do: keep only records no later running one nests in.
        innermost = [r for i, r in enumerate(running)
                     if not any(later["nesting"] > r["nesting"] for later in running[i + 1:])]
        return [f"{r['name']} ({self.file.name}:{r['line']})" for r in innermost]


def run_file(node: str, file: Path, env: dict[str, str], per_test_timeout_ms: int, file_timeout_s: float) -> FileRun:
    """Run `file` with `node --test`; past `file_timeout_s` its process group is killed."""
    with tempfile.NamedTemporaryFile(prefix="sdk-results-", suffix=".jsonl", delete=False) as results:
        results_path = Path(results.name)
    command = [
        node, "--test", f"--test-timeout={per_test_timeout_ms}",
        "--test-reporter=spec", "--test-reporter-destination=stdout",
        f"--test-reporter={RESULTS_REPORTER.as_uri()}", f"--test-reporter-destination={results_path}",
        str(file),
    ]
    proc = subprocess.Popen(command, cwd=SDK_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # its own group: a kill reaches the test process too
    try:
        output, _ = proc.communicate(timeout=file_timeout_s)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        returncode = None
    except BaseException:  # e.g. ^C in pytest: node must not go on in the background
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    try:
        return FileRun(file, returncode, file_timeout_s, output, _read_records(results_path))
    finally:
        results_path.unlink(missing_ok=True)


def _read_records(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the last line, cut short when node was killed
    return records


def _error_text(record: dict) -> str:
    error = record["error"] or {}
    lines = str(error.get("message", "")).splitlines()
    kind = error.get("failureType")
    head = [f"[{kind}]"] if kind and kind != "testCodeFailure" else []
    shown = lines[:_ERROR_LINES] + (["..."] if len(lines) > _ERROR_LINES else [])
    return "\n".join(head + shown)


def _file_problem(run: FileRun, tests_failed: bool) -> str | None:
    """Why the file's process failed, when no failing test says it already."""
    if run.timed_out:
        return f"node did not finish within {run.time_limit_s:g} s; pytest killed it"
    record = run.file_record()
    if record is None or record["event"] != "fail":
        return None
    error = record["error"] or {}
    if error.get("failureType") == "testTimeoutFailure":
        return f"node stopped the file: it ran past --test-timeout ({error.get('message')})"
    if tests_failed:
        return None
    return (f"the file's process exited with code {run.returncode} although no test failed: an "
            "`exit-guard:` line in the output names what was left open; else the file failed to load")


def failure_message(run: FileRun, server_url: str) -> str | None:
    """None when every test of the file passed and node exited by itself; else what failed,
    by file and test, with node's report appended."""
    name = run.file.name
    failures = run.failures()
    parts = [f"✖ {' > '.join(r['path'])} ({name}:{r['line']})\n{_indent(_error_text(r))}" for r in failures]
    problem = _file_problem(run, bool(failures))
    if problem:
        running = run.unfinished()
        if running:
            problem += "; still running then:\n" + "\n".join(f"  - {test}" for test in running)
        parts.append(problem)
    if not parts and run.returncode == 0 and run.passed() == 0:
        parts.append("node exited 0 but no test passed")
    if not parts and run.returncode != 0:
        parts.append(f"node exited with code {run.returncode}")
    if not parts:
        return None
    headline = (f"{name} against {server_url}: {len(failures)} of {run.tests()} tests failed, "
                f"{run.passed()} passed")
    return "\n".join([headline, *parts, "", f"--- node --test output for {name} ---", run.output])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
