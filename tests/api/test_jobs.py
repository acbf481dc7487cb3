"""Jobs over REST against a real server with `--cloud`: starting one (both of Parse's forms),
its `_JobStatus` from "running" to "succeeded" or "failed" with Parse's fields, `req.message`,
the refusals (no master key, unknown job), and `/cloud_code/jobs` as the Parse Dashboard uses it."""

from __future__ import annotations

import secrets
import textwrap
import time

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

CLOUD = textwrap.dedent('''
    import threading

    import trio

    from parsnip.cloud import Cloud, ParseError

    cloud = Cloud()
    release = trio.Event()

    @cloud.job("report")
    async def report(req):
        await req.message(f"started {req.job_id}")
        await release.wait()
        return f"done with {req.params.get('n')} as master={req.master}"

    @cloud.define("release")
    async def release_report(req):
        release.set()

    @cloud.job("params")
    async def params(req):
        d = req.params["d"]
        return f"{type(d).__name__} {d.year} {req.job_name}"

    @cloud.job("silent")
    async def silent(req):
        return {"not": "a string"}

    @cloud.job("refuses")
    async def refuses(req):
        raise ParseError(ParseError.VALIDATION_ERROR, "not today")

    @cloud.job("crashes")
    def crashes(req):  # a plain def, in a worker thread: req.message works there too
        req.message("about to crash")
        raise RuntimeError("disk on fire")

    @cloud.job("talks")
    def talks(req):
        for i in range(5):
            req.message(f"step {i}")
        return None
''')


@pytest.fixture(scope="module")
def server(admin_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("jobs"), CLOUD) as info:
        yield info


@pytest.fixture
def master(server):
    with httpx.Client(base_url=server.url, timeout=10, headers={
        "X-Parse-Application-Id": server.app_id, "X-Parse-Master-Key": server.master_key,
    }) as client:
        yield client


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10, headers={"X-Parse-Application-Id": server.app_id}) as c:
        yield c


def start(master: httpx.Client, name: str, body: dict | None = None) -> str:
    r = master.post(f"/jobs/{name}", json=body or {})
    assert (r.status_code, r.json()) == (200, {}), r.text
    return r.headers["X-Parse-Job-Status-Id"]


def status(master: httpx.Client, job_id: str) -> dict:
    r = master.get(f"/classes/_JobStatus/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def finished(master: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = status(master, job_id)
        if found["status"] != "running":
            return found
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running: {found}")


def test_a_job_answers_at_once_and_its_status_goes_from_running_to_succeeded(master):
    job_id = start(master, "report", {"n": 3})
    running = status(master, job_id)
    assert {k: running[k] for k in ("jobName", "source", "status", "params")} == {
        "jobName": "report", "source": "api", "status": "running", "params": {"n": 3}}
    assert "finishedAt" not in running
    deadline = time.monotonic() + 5
    while status(master, job_id).get("message") != f"started {job_id}":
        assert time.monotonic() < deadline, "req.message never reached _JobStatus"
        time.sleep(0.05)
    assert master.post("/functions/release", json={}).status_code == 200
    done = finished(master, job_id)
    assert done["status"] == "succeeded"
    assert done["message"] == "done with 3 as master=True"
    assert done["finishedAt"]["__type"] == "Date" and done["finishedAt"]["iso"] >= done["createdAt"]


def test_the_body_form_names_the_job_in_job_name_as_the_dashboard_sends_it(master):
    r = master.post("/jobs", json={"jobName": "silent"})
    assert (r.status_code, r.json()) == (200, {})
    done = finished(master, r.headers["X-Parse-Job-Status-Id"])
    assert (done["jobName"], done["status"]) == ("silent", "succeeded")
    assert "message" not in done  # Parse keeps only a string result


def test_params_arrive_decoded_and_the_query_string_wins(master):
    r = master.post("/jobs/params?x=1", json={"d": {"__type": "Date", "iso": "2030-05-06T07:08:09.000Z"}, "x": 0})
    job_id = r.headers["X-Parse-Job-Status-Id"]
    done = finished(master, job_id)
    assert done["message"] == "datetime 2030 params"
    assert done["params"] == {"d": {"__type": "Date", "iso": "2030-05-06T07:08:09.000Z"}, "x": "1"}


@pytest.mark.parametrize("params", [{"$x": 1}, {"a.b": 1}, {"p": {"__type": "Pointer"}},
                                    {"d": {"__type": "Date", "iso": "nope"}}])
def test_params_the_status_cannot_store_still_run_the_job_as_parse_does(master, params):
    done = finished(master, start(master, "silent", params))
    assert done["status"] == "succeeded" and "params" not in done


@pytest.mark.parametrize("name, message", [
    ("refuses", "not today"),  # a ParseError's message
    ("crashes", "disk on fire"),  # any exception's, from a plain def too
])
def test_a_failing_job_is_recorded_failed_with_its_message(master, name, message):
    done = finished(master, start(master, name))
    assert (done["status"], done["message"]) == ("failed", message)
    assert "finishedAt" in done


def test_messages_are_written_in_order_before_the_final_status(master):
    done = finished(master, start(master, "talks"))
    assert (done["status"], done["message"]) == ("succeeded", "step 4")


@pytest.mark.parametrize("class_name", ["_JobStatus", "_JobSchedule"])
@pytest.mark.parametrize("method, path", [("GET", ""), ("GET", "/{id}"), ("POST", ""), ("PUT", "/{id}"),
                                          ("DELETE", "/{id}")])
def test_job_statuses_and_schedules_are_for_the_master_key_only(master, client, class_name, method, path):
    """Parse's master-only classes: a client may not even create a schedule for the scheduler to run."""
    job_id = start(master, "silent")
    r = client.request(method, f"/classes/{class_name}" + path.format(id=job_id),
                       json={"jobName": "silent", "startAfter": "2020-01-01T00:00:00.000Z"})
    assert (r.status_code, r.json()) == (400, {"code": 119, "error": "Permission denied"})
    batch = client.post("/batch", json={"requests": [{"method": "POST", "path": f"/parse/classes/{class_name}",
                                                      "body": {"jobName": "silent"}}]})
    assert batch.json() == [{"error": {"code": 119, "error": "Permission denied"}}]


@pytest.mark.parametrize("path, body", [("/jobs/nope", {}), ("/jobs", {"jobName": "nope"}), ("/jobs", {}),
                                        ("/jobs", {"jobName": ["report"]})])
def test_an_unknown_job_is_parse_s_141(master, path, body):
    r = master.post(path, json=body)
    assert (r.status_code, r.json()) == (400, {"code": 141, "error": "Invalid job."})
    assert "X-Parse-Job-Status-Id" not in r.headers


@pytest.mark.parametrize("method, path", [
    ("POST", "/jobs/report"), ("POST", "/jobs"), ("GET", "/cloud_code/jobs"), ("GET", "/cloud_code/jobs/data"),
    ("POST", "/cloud_code/jobs"), ("PUT", "/cloud_code/jobs/x"), ("DELETE", "/cloud_code/jobs/x"),
])
def test_without_the_master_key_parse_s_middleware_refuses(client, method, path):
    r = client.request(method, path, json={"jobName": "report", "job_schedule": {"jobName": "report"}})
    assert (r.status_code, r.json()) == (403, {"error": "Permission denied"})


def test_the_dashboard_s_schedule_crud_and_data(master, server):
    assert master.get("/cloud_code/jobs").json() == []
    r = master.post("/cloud_code/jobs", json={"job_schedule": {
        "jobName": "silent", "description": "nightly", "params": "{}", "daysOfWeek": [1] * 7,
        "timeOfDay": "03:00:00.000Z", "repeatMinutes": 1440, "startAfter": "2099-01-01T00:00:00.000Z"}})
    assert r.status_code == 201 and set(r.json()) == {"objectId", "createdAt"}
    object_id = r.json()["objectId"]
    assert r.headers["Location"] == f"{server.url}/classes/_JobSchedule/{object_id}"
    unnamed = master.post("/cloud_code/jobs", json={"job_schedule": {"description": "no job yet"}})
    assert unnamed.status_code == 201
    [first, second] = sorted(master.get("/cloud_code/jobs").json(), key=lambda s: s["createdAt"])
    assert {k: first[k] for k in ("objectId", "jobName", "description", "timeOfDay", "repeatMinutes")} == {
        "objectId": object_id, "jobName": "silent", "description": "nightly", "timeOfDay": "03:00:00.000Z",
        "repeatMinutes": 1440}
    assert second["startAfter"] >= second["createdAt"][:19]  # Parse fills startAfter with "now"
    data = master.get("/cloud_code/jobs/data").json()
    assert sorted(data["jobs"]) == ["crashes", "params", "refuses", "report", "silent", "talks"]  # not functions
    assert sorted(data["in_use"], key=str) == sorted(["silent", None], key=str)

    r = master.put(f"/cloud_code/jobs/{object_id}", json={"job_schedule": {"description": "hourly", "repeatMinutes": 60}})
    assert r.status_code == 200 and set(r.json()) == {"response"} and set(r.json()["response"]) == {"updatedAt"}
    edited = [s for s in master.get("/cloud_code/jobs").json() if s["objectId"] == object_id][0]
    assert (edited["description"], edited["repeatMinutes"]) == ("hourly", 60)

    assert (r := master.delete(f"/cloud_code/jobs/{object_id}")).status_code == 200 and r.json() == {}
    assert master.delete(f"/cloud_code/jobs/{object_id}").json() == {"code": 101, "error": "Object not found for delete."}
    master.delete(f"/cloud_code/jobs/{unnamed.json()['objectId']}")
    assert master.get("/cloud_code/jobs").json() == []


@pytest.mark.parametrize("body, code, error", [
    ({"job_schedule": {"jobName": "nope"}}, 1, "Cannot Schedule a job that is not deployed"),
    ({}, 107, "job_schedule must be an object."),
    ({"job_schedule": "daily"}, 107, "job_schedule must be an object."),
    ({"job_schedule": {"repeatMinutes": "often"}}, 111, None),
])
def test_a_bad_schedule_is_refused_with_a_parse_error(master, body, code, error):
    r = master.post("/cloud_code/jobs", json=body)
    assert (r.status_code, r.json()["code"]) == (500 if code == 1 else 400, code), r.text  # Parse's 500 for code 1
    if error is not None:
        assert r.json()["error"] == error
        edit = master.put("/cloud_code/jobs/abc", json=body)  # checked before the object is looked up
        assert edit.json() == {"code": code, "error": error}


def test_server_info_says_jobs_are_supported(master):
    assert master.get("/serverInfo").json()["features"]["cloudCode"] == {"jobs": True}


def test_a_job_cut_short_by_the_server_s_stop_is_recorded_failed(admin_dsn, tmp_path):
    dsn_name = "parsnip_js_" + secrets.token_hex(6)
    (tmp_path / "main.py").write_text(CLOUD)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{dsn_name}"')
    dsn = _with_database(admin_dsn, dsn_name)
    try:
        info = start_server(dsn, "--cloud", str(tmp_path / "main.py"))
        try:
            with httpx.Client(base_url=info.url, timeout=10, headers={
                    "X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key}) as master:
                job_id = start(master, "report")
                assert status(master, job_id)["status"] == "running"
        finally:
            assert stop_server(info) == 0
        info = start_server(dsn, "--cloud", str(tmp_path / "main.py"))
        try:
            with httpx.Client(base_url=info.url, timeout=10, headers={
                    "X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key}) as master:
                stopped = status(master, job_id)
        finally:
            stop_server(info)
    finally:
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{dsn_name}" WITH (FORCE)')
    assert (stopped["status"], stopped["message"]) == ("failed", "The server stopped before the job finished.")
    assert "finishedAt" in stopped
