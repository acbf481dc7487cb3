"""Shutdown and crash figures for the closing note, with real `parsnip` processes.

    python benchmarks/faults_bench.py [--admin-dsn postgres://postgres@127.0.0.1:5432/test]
                                      [--repeats 3] [--kill-rounds 3] [--json-out FILE]

Measures, each on a fresh database:
- SIGTERM with only an idle keep-alive connection open: seconds until the process exited;
- SIGTERM under write load (8 threads: single creates, plain and transactional /batch) with a
  stalled LiveQuery subscriber (subscribed to a class being written, its socket never read,
  its window full), an idle keep-alive connection and a client sending its body a byte at a
  time: seconds until exit, writes acknowledged, and the log's invariants checked;
- kill -9 at random moments under the same load, restarted on the same database each round:
  writes acknowledged per round, then every acknowledged write present, no transactional batch
  in part, positions 1..head, `parsnip rebuild` identical to the projections.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.api.fault_helpers import (Outcomes, WriteLoad, assert_log_holds, log_state,  # noqa: E402
                                     raw_connection, stalled_subscriber)
from tests.conftest import _admin_sql, _with_database, start_server  # noqa: E402


class _Database:
    def __init__(self, admin: str) -> None:
        self.admin, self.name = admin, "parsnip_fb_" + secrets.token_hex(6)

    def __enter__(self) -> str:
        _admin_sql(self.admin, f'CREATE DATABASE "{self.name}"')
        return _with_database(self.admin, self.name)

    def __exit__(self, *exc) -> None:
        _admin_sql(self.admin, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _sigterm(server) -> float:
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=120)
    assert code == 0, f"exit code {code}"
    return time.monotonic() - started


def _keep_alive(server):
    s = raw_connection(server.url)
    s.sendall(f"GET {urlsplit(server.url).path}/health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.settimeout(5)
    answer = b""
    while b'{"status":"ok"}' not in answer:
        answer += s.recv(4096)
    return s


def idle_only(admin: str) -> float:
    with _Database(admin) as dsn:
        server = start_server(dsn)
        idle = _keep_alive(server)
        took = _sigterm(server)
        idle.close()
        return took


def under_load(admin: str) -> dict:
    with _Database(admin) as dsn:
        server = start_server(dsn, "--startLiveQueryServer", "--liveQuery", json.dumps({"classNames": ["Fat"]}))
        stalled = stalled_subscriber(server.url, server.app_id, "Fat")
        with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}) as client:
            for _ in range(250):
                client.post("/classes/Fat", json={"fat": "x" * 40_000})
        idle = _keep_alive(server)
        slow = raw_connection(server.url)
        slow.sendall((f"POST {urlsplit(server.url).path}/classes/Slow HTTP/1.1\r\nHost: x\r\n"
                      f"X-Parse-Application-Id: {server.app_id}\r\nContent-Length: 100000\r\n\r\n{{").encode())
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.3):
                try:
                    slow.send(b" ")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        load = WriteLoad(server.url, server.app_id, "Drain", threads=8).start()
        time.sleep(2.0)
        took = _sigterm(server)
        out = load.stop()
        stop.set()
        for s in (stalled, idle, slow):
            s.close()
        assert out.hung == 0
        assert_log_holds(log_state(dsn, "Drain"), out)
        return {"seconds": round(took, 3), "acknowledged": len(out.acked), "answered": out.answered,
                "closed_without_answer": out.closed}


def kill_rounds(admin: str, rounds: int, rng: random.Random) -> dict:
    per_round = []
    total = Outcomes()
    with _Database(admin) as dsn:
        for _ in range(rounds):
            server = start_server(dsn)
            load = WriteLoad(server.url, server.app_id, "Crash", threads=6).start()
            time.sleep(rng.uniform(0.5, 2.0))
            server.process.kill()
            server.process.wait()
            out = load.stop()
            assert out.hung == 0
            per_round.append({"acknowledged": len(out.acked), "in_flight_cut": out.closed,
                              "transactional_batches_sent": len(out.transactions)})
            total.merge(out)
        server = start_server(dsn)
        _sigterm(server)
        state = log_state(dsn, "Crash")
        assert_log_holds(state, total)
    return {"rounds": per_round, "acknowledged_checked": len(total.acked), "log_head": state.head,
            "positions_dense": True, "projections_equal_log": state.projections_equal_log}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--admin-dsn", default="postgres://postgres@127.0.0.1:5432/test",
                   help="a PostgreSQL where databases may be created and dropped")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kill-rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json-out", default=None)
    args = p.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)

    idle = [idle_only(args.admin_dsn) for _ in range(args.repeats)]
    print(f"SIGTERM, one idle keep-alive connection: median {statistics.median(idle):.2f} s, max {max(idle):.2f} s")
    loaded = [under_load(args.admin_dsn) for _ in range(args.repeats)]
    times = [r["seconds"] for r in loaded]
    print(f"SIGTERM under load with a stalled LiveQuery client, an idle and a slow one: "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
          f"acknowledged writes checked {sum(r['acknowledged'] for r in loaded)}, none lost")
    killed = kill_rounds(args.admin_dsn, args.kill_rounds, random.Random(seed))
    acks = ", ".join(str(r["acknowledged"]) for r in killed["rounds"])
    print(f"kill -9, {len(killed['rounds'])} rounds (seed {seed}): acknowledged {acks}; "
          f"all {killed['acknowledged_checked']} present, no partial transaction, positions 1..{killed['log_head']} "
          f"dense, projections equal to the log")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "idle_keep_alive_seconds": idle, "under_load": loaded, "kill_9": killed, "seed": seed}, indent=2))


if __name__ == "__main__":
    main()
