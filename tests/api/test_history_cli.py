"""`parsnip history {className} {objectId}`: an object's versions as a terminal table."""

from __future__ import annotations

import subprocess
import sys

from tests.api.users_helpers import master
from tests.conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parsnip.api.cli", "history", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_prints_each_version_in_a_table(api, parsnip_server, class_name):
    m = master(parsnip_server)
    oid = api.post(f"/classes/{class_name}", headers=m, json={"score": 1}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"score": {"__op": "Increment", "amount": 4}})
    api.delete(f"/classes/{class_name}/{oid}", headers=m)
    positions = [e["position"] for e in api.get(f"/history/{class_name}/{oid}", headers=m).json()["results"]]

    done = _run(class_name, oid, "--databaseURI", parsnip_server.dsn)
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert header.split() == ["position", "version", "op", "at", "by", "changes"]
    assert set(rule.replace(" ", "")) == {"-"}
    cells = [row.split() for row in rows]
    assert [(int(c[0]), c[1], c[2], c[4]) for c in cells] == [
        (positions[0], "1", "create", "master"), (positions[1], "2", "update", "master"),
        (positions[2], "3", "delete", "master")]
    assert '{"score":{"__op":"Increment","amount":4}}' in rows[1]

    later = _run(class_name, oid, "--after", str(positions[0]), "--limit", "1", "--databaseURI", parsnip_server.dsn)
    assert [r.split()[2] for r in later.stdout.splitlines()[2:]] == ["update"]


def test_an_object_without_history_exits_non_zero(parsnip_server, class_name):
    done = _run(class_name, "zzzzzzzzzz", "--databaseURI", parsnip_server.dsn)
    assert done.returncode == 1 and "no history" in done.stderr
    bad = _run("no-such class", "x", "--databaseURI", parsnip_server.dsn)
    assert bad.returncode == 1 and bad.stderr.startswith("parsnip history:")
