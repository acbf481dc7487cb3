"""GET /metrics on a real `parsnip` process: the Prometheus text (read with prometheus_client's
own parser) counts the requests just made, by route template and status; the writer, log,
pool and database gauges are right; LiveQuery gauges follow a real websocket subscriber; who may
scrape; and with --cluster 2 a scrape of either worker sees the whole node."""

from __future__ import annotations

import json
import secrets
import time
import warnings

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionClosed, open_websocket_url

from parsnip.api import observe
from tests.conftest import _admin_sql, _with_database, start_server, stop_server
from tests.livequery.live_helpers import connected, ws_url

MAX_QUEUE = 2


@pytest.fixture(scope="module")
def server(admin_dsn: str):
    """One server whose /metrics only the master key opens (metricsIps empty), so both the
    counting and the refusals are seen from this host."""
    name = "parsnip_m_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--metricsIps", "", "--startLiveQueryServer",
                        "--liveQuery", json.dumps({"classNames": ["Live.*"]}),
                        "--liveQueryServerOptions", json.dumps({"maxQueue": MAX_QUEUE}))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scrape(info, path: str = "/parse/metrics", **headers: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    root = info.url.removesuffix("/parse")
    r = httpx.get(root + path, headers={"X-Parse-Master-Key": info.master_key, **headers}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def requests_counted(samples, method: str, route: str, status: int) -> float:
    key = ("parsnip_http_request_duration_seconds_count",
           (("method", method), ("route", route), ("status", str(status))))
    return samples.get(key, 0.0)


def value(samples, name: str) -> float:
    return samples[(name, ())]


def test_requests_are_counted_by_route_template_and_status(server):
    cls = "M" + secrets.token_hex(4)
    before = scrape(server)
    app = {"X-Parse-Application-Id": server.app_id}
    with httpx.Client(base_url=server.url, headers=app, timeout=30) as c:
        ids = [c.post(f"/classes/{cls}", json={"n": i}).json()["objectId"] for i in range(5)]
        for oid in ids[:3]:
            assert c.get(f"/classes/{cls}/{oid}").status_code == 200
        assert c.get(f"/classes/{cls}/nosuchobject").status_code == 404
        # The JS SDK's form: a POST carrying _method GET is a find.
        assert c.post(f"/classes/{cls}", content=json.dumps({"_method": "GET", "_ApplicationId": server.app_id}),
                      headers={"Content-Type": "text/plain"}).status_code == 200
        assert httpx.get(f"{server.url}/classes/{cls}", timeout=10).status_code == 403  # no application id
        assert c.get("/health").status_code == 200
    after = scrape(server)
    expected = [("POST", "/classes/:className", 201, 5), ("GET", "/classes/:className/:objectId", 200, 3),
                ("GET", "/classes/:className/:objectId", 404, 1), ("GET", "/classes/:className", 200, 1),
                ("GET", "/classes/:className", 403, 1), ("GET", "/health", 200, 1)]
    for method, route, status, count in expected:
        assert requests_counted(after, method, route, status) - requests_counted(before, method, route, status) \
            == count, (method, route, status)
    # No raw path, object id or class name ever becomes a label value.
    routes = {dict(labels)["route"] for (name, labels) in after if name.startswith("parsnip_http_request")}
    assert not any(cls in r or any(oid in r for oid in ids) for r in routes)
    # The latency histogram's buckets hold every request.
    inf = ("parsnip_http_request_duration_seconds_bucket",
           (("le", "+Inf"), ("method", "POST"), ("route", "/classes/:className"), ("status", "201")))
    assert after[inf] == requests_counted(after, "POST", "/classes/:className", 201)


def test_writer_log_pool_and_database_gauges(server):
    cls = "M" + secrets.token_hex(4)
    before = scrape(server)
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
        for i in range(4):
            assert c.post(f"/classes/{cls}", json={"n": i}).status_code == 201
    after = scrape(server)
    # Four creates: four units of the writer, in one or more batches; five events (the class's
    # schema event first).
    assert value(after, "parsnip_writer_batch_size_sum") - value(before, "parsnip_writer_batch_size_sum") == 4
    batches = value(after, "parsnip_writer_batch_size_count") - value(before, "parsnip_writer_batch_size_count")
    assert 1 <= batches <= 4
    assert value(after, "parsnip_writer_commit_seconds_count") - value(before, "parsnip_writer_commit_seconds_count") \
        == batches
    assert value(after, "parsnip_log_head_position") - value(before, "parsnip_log_head_position") == 5
    assert value(after, "parsnip_log_delivered_position") == value(after, "parsnip_log_head_position")
    assert value(after, "parsnip_follower_lag_positions") == 0
    assert value(after, "parsnip_database_up") == 1
    assert value(after, "parsnip_db_pool_max") == 10
    assert 1 <= value(after, "parsnip_db_pool_connections") <= 10
    assert 0 <= value(after, "parsnip_db_pool_in_use") <= value(after, "parsnip_db_pool_connections")


@pytest.mark.parametrize("headers, status", [
    ({}, 403),
    ({"X-Parse-Master-Key": "wrong"}, 403),
    ({"Authorization": "Bearer wrong"}, 403),
    ({"X-Parse-Master-Key": "test-master"}, 200),
    ({"Authorization": "Bearer test-master"}, 200),
])
@pytest.mark.parametrize("path", ["/metrics", "/parse/metrics"])
def test_who_may_scrape(server, path, headers, status):
    r = httpx.get(server.url.removesuffix("/parse") + path, headers=headers, timeout=10)
    assert r.status_code == status
    if status == 403:
        assert r.json() == {"error": "unauthorized"}


def test_the_loopback_may_scrape_without_a_key_by_default(fresh_dsn):
    info = start_server(fresh_dsn)
    try:
        r = httpx.get(info.url.removesuffix("/parse") + "/metrics", timeout=10)
        assert r.status_code == 200 and "parsnip_database_up 1.0" in r.text
    finally:
        stop_server(info)


async def test_livequery_gauges_follow_a_real_subscriber(server):
    cls = "Live" + secrets.token_hex(4)
    base = await trio.to_thread.run_sync(scrape, server)
    assert value(base, "parsnip_livequery_connections") == 0
    async with open_websocket_url(ws_url(server)) as ws:
        client = await connected(ws, server)
        assert (await client.subscribe(1, cls, {"room": "a"}))["op"] == "subscribed"
        assert (await client.subscribe(2, cls, {"room": "b"}))["op"] == "subscribed"
        now = await trio.to_thread.run_sync(scrape, server)
        assert value(now, "parsnip_livequery_connections") == 1
        assert value(now, "parsnip_livequery_subscriptions") == 2
        assert value(now, "parsnip_livequery_queued_messages") == 0
        # One request writes 20 matching objects in one group commit: the dispatcher queues them
        # all before the client's sender runs, past maxQueue (2): the client is cut off.
        body = {"requests": [{"method": "POST", "path": f"/parse/classes/{cls}", "body": {"room": "a"}}
                             for _ in range(20)]}
        async with httpx.AsyncClient(timeout=30) as c:
            r = await c.post(server.url + "/batch", json=body,
                             headers={"X-Parse-Application-Id": server.app_id, "X-Parse-Master-Key": server.master_key})
            assert r.status_code == 200
        messages = []
        with trio.fail_after(10):
            try:
                while True:
                    messages.append(json.loads(await ws.get_message()))
            except ConnectionClosed:
                pass
        assert messages[-1]["op"] == "error" and messages[-1]["code"] == 5
    with trio.fail_after(10):
        while True:
            after = await trio.to_thread.run_sync(scrape, server)
            if value(after, "parsnip_livequery_connections") == 0:
                break
            await trio.sleep(0.05)
    assert value(after, "parsnip_livequery_subscriptions") == 0
    assert value(after, "parsnip_livequery_clients_cut_off_total") - value(base, "parsnip_livequery_clients_cut_off_total") == 1
    assert value(after, "parsnip_livequery_dispatch_lag_positions") == 0


def test_a_scrape_of_any_cluster_worker_sees_the_whole_node(fresh_dsn):
    info = start_server(fresh_dsn, "--cluster", "2")
    try:
        cls = "M" + secrets.token_hex(4)
        # Fresh connections, so the kernel spreads them over both workers.
        for i in range(20):
            r = httpx.post(f"{info.url}/classes/{cls}", json={"n": i}, timeout=30,
                           headers={"X-Parse-Application-Id": info.app_id, "Connection": "close"})
            assert r.status_code == 201
        time.sleep(observe.SAMPLE_SECONDS + 0.5)  # each worker writes its gauges this often
        for _ in range(6):  # whichever worker answers: the node's totals
            samples = scrape(info, "/metrics", Connection="close")
            assert requests_counted(samples, "POST", "/classes/:className", 201) == 20
            assert value(samples, "parsnip_writer_batch_size_sum") == 20
            assert value(samples, "parsnip_db_pool_max") == 20  # two pools of 10
            assert value(samples, "parsnip_database_up") == 1
            assert value(samples, "parsnip_log_head_position") == 21
            assert value(samples, "parsnip_log_delivered_position") == 21  # the slower worker's, too
    finally:
        stop_server(info)


def test_database_up_falls_to_zero_when_postgresql_stops(tmp_path):
    """Against a PostgreSQL of the test's own, which it stops: the scrape still answers, at once."""
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset
        warnings.simplefilter("ignore")
        import pgserver

    postgres = pgserver.get_server(str(tmp_path / "pg"), cleanup_mode="stop")
    info = start_server(postgres.get_uri(), "--metricsIps", "127.0.0.1")
    try:
        assert value(scrape(info, "/metrics"), "parsnip_database_up") == 1
        postgres.cleanup()  # pg_ctl stop
        started = time.monotonic()
        assert value(scrape(info, "/metrics"), "parsnip_database_up") == 0
        assert time.monotonic() - started < 5
    finally:
        stop_server(info)
        postgres.cleanup()
