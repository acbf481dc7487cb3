"""kill -9 with real processes: a `parsnip` process under concurrent single writes, plain
/batch writes and transactional /batch writes, killed at random moments and restarted on the
same database, never loses a write it acknowledged, never keeps part of a transactional batch,
and leaves a log with dense positions whose replay equals the projections."""

from __future__ import annotations

import random
import time

import httpx

from tests.api.fault_helpers import Outcomes, WriteLoad, assert_log_holds, log_state
from tests.conftest import start_server, stop_server

ROUNDS = 3


def test_kill_9_mid_batch_loses_no_acknowledged_write(fresh_dsn):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    total = Outcomes()
    for _ in range(ROUNDS):
        server = start_server(fresh_dsn)
        load = WriteLoad(server.url, server.app_id, "Crash", threads=6).start()
        load_for = rng.uniform(0.5, 2.0)
        try:
            load.wait_acked(1)
            time.sleep(load_for)
        finally:
            server.process.kill()
            server.process.wait()
        out = load.stop()
        assert out.hung == 0, f"seed {seed}: a request hung"
        assert out.acked, f"seed {seed}: nothing was acknowledged in {load_for:.1f} s"
        total.merge(out)

    # The node comes back on what the kills left, and serves what it acknowledged.
    server = start_server(fresh_dsn)
    try:
        last = total.acked[-1]
        r = httpx.get(f"{server.url}/classes/Crash/{last}", headers={"X-Parse-Application-Id": server.app_id})
        assert r.status_code == 200
    finally:
        assert stop_server(server) == 0
    assert_log_holds(log_state(fresh_dsn, "Crash"), total)
