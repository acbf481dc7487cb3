"""Parsnip's job scheduler across real server processes on one database: a repeating
schedule runs each slot once however many nodes serve it; a slot already run is not run again
after every node restarts; a slot missed while no node ran is run once when one starts."""

from __future__ import annotations

import secrets
import textwrap
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import ServerInfo, _admin_sql, _with_database, start_server, stop_server

CLOUD = textwrap.dedent('''
    from parsnip.cloud import Cloud

    cloud = Cloud()

    @cloud.job("tick")
    async def tick(req):
        return f"tock {req.params.get('n')}"
''')

INTERVAL = "0.2"  # seconds between each node's looks at _JobSchedule
SLOT_S = 3.0  # repeatMinutes 0.05


@pytest.fixture
def database(admin_dsn: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database of its own, and the cloud module every node loads."""
    (tmp_path / "main.py").write_text(CLOUD)
    name = "parsnip_j_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_dsn, name), tmp_path / "main.py"
    finally:
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def nodes(database: tuple[str, Path], count: int, interval: str = INTERVAL) -> Iterator[list[ServerInfo]]:
    dsn, cloud = database
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            info = start_server(dsn, "--cloud", str(cloud), "--jobSchedulerInterval", interval)
            stack.callback(stop_server, info)
            started.append(info)
        yield started


def master(info: ServerInfo) -> httpx.Client:
    return httpx.Client(base_url=info.url, timeout=10,
                        headers={"X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key})


def schedule(info: ServerInfo, **fields) -> str:
    job_schedule = {"jobName": "tick", "params": "{}", **fields}
    with master(info) as client:
        r = client.post("/cloud_code/jobs", json={"job_schedule": job_schedule})
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


def scheduled_runs(info: ServerInfo) -> list[dict]:
    with master(info) as client:
        r = client.get("/classes/_JobStatus", params={"where": '{"source": "schedule"}', "limit": 1000,
                                                      "order": "createdAt"})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def created(run: dict) -> datetime:
    return datetime.fromisoformat(run["createdAt"].replace("Z", "+00:00"))


def test_two_nodes_run_each_slot_of_a_repeating_schedule_once(database):
    with nodes(database, 2) as (a, b):
        began = datetime.now(timezone.utc)
        schedule(a, repeatMinutes=SLOT_S / 60, timeOfDay="00:00:00.000Z", daysOfWeek=[1] * 7,
                 startAfter=iso(began), params='{"n": 2}')  # params as the Dashboard sends them: JSON text
        time.sleep(5 * SLOT_S + 1)
        runs = scheduled_runs(b)
    slots = [int(created(run).timestamp() // SLOT_S) for run in runs]
    assert len(slots) == len(set(slots)), f"a slot ran twice: {[r['createdAt'] for r in runs]}"
    assert len(slots) >= 5, f"slots were missed: {[r['createdAt'] for r in runs]}"
    for run in runs:  # each run starts just after its slot, not a tick later
        assert created(run).timestamp() % SLOT_S < 1.0, run["createdAt"]
        assert (run["status"], run["message"], run["jobName"], run["params"]) == ("succeeded", "tock 2", "tick", {"n": 2})


def test_a_slot_already_run_is_not_run_again_after_every_node_restarts(database):
    with nodes(database, 2) as (a, b):
        schedule(a, startAfter=iso(datetime.now(timezone.utc) + timedelta(seconds=1)))
        deadline = time.monotonic() + 10
        while not scheduled_runs(b) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(scheduled_runs(b)) == 1
    with nodes(database, 2) as (a, b):  # the slot is still the latest and within the grace
        time.sleep(2)
        assert len(scheduled_runs(a)) == 1


def test_a_slot_missed_while_no_node_ran_runs_once_when_one_starts(database):
    with nodes(database, 1, interval="0") as (quiet,):  # a node without a scheduler
        schedule(quiet, startAfter=iso(datetime.now(timezone.utc)))
        time.sleep(1)
        assert scheduled_runs(quiet) == []
    with nodes(database, 2) as (a, b):
        deadline = time.monotonic() + 10
        while not scheduled_runs(a) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        runs = scheduled_runs(b)
    assert [run["status"] for run in runs] == ["succeeded"]
