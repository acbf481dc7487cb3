"""A 200 MB file goes up and comes back through a real `parsnip` process whose memory stays flat:
the upload is streamed to the adapter (never held whole, back-pressure on Quart's body buffer)
and the download is streamed from it."""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import threading
import time

import httpx
import psutil

from tests.conftest import _admin_sql, _with_database, start_server, stop_server

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
BOUND = 64 * 1024 * 1024  # the most the server's RSS may grow while it moves 200 MB each way


class _PeakRss:
    """Samples a process's resident memory every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> "_PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_a_200_mb_file_up_and_down_keeps_the_server_flat(admin_dsn):
    name = "parsnip_fs_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    folder = tempfile.mkdtemp(prefix="parsnip-files-")
    info = start_server(_with_database(admin_dsn, name), "--maxUploadSize", "300mb",
                        "--filesAdapter", json.dumps({"directory": folder}), app_id="stream-app")
    try:
        headers = {"X-Parse-Application-Id": "stream-app", "X-Parse-Master-Key": "test-master"}
        with httpx.Client(base_url=info.url, timeout=120) as client:
            client.get("/serverInfo", headers=headers)  # warm: imports and pools in place before measuring
            baseline = psutil.Process(info.process.pid).memory_info().rss
            sent = hashlib.sha256()

            def body():
                block = secrets.token_bytes(CHUNK)
                for _ in range(SIZE // CHUNK):
                    sent.update(block)
                    yield block

            with _PeakRss(info.process.pid) as up:
                r = client.post("/files/big.bin", content=body(),
                                headers={**headers, "Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
            received = hashlib.sha256()
            size = 0
            with _PeakRss(info.process.pid) as down:
                with client.stream("GET", f"/files/stream-app/{r.json()['name']}") as got:
                    assert got.status_code == 200 and got.headers["content-length"] == str(SIZE)
                    for chunk in got.iter_bytes():
                        received.update(chunk)
                        size += len(chunk)
        assert size == SIZE and received.hexdigest() == sent.hexdigest()
        growth = max(up.peak, down.peak) - baseline
        print(f"server RSS: baseline {baseline / 2**20:.0f} MiB, peak growth upload "
              f"{(up.peak - baseline) / 2**20:.1f} MiB, download {(down.peak - baseline) / 2**20:.1f} MiB")
        assert growth < BOUND, f"the server grew by {growth / 2**20:.0f} MiB moving 200 MB"
    finally:
        stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
