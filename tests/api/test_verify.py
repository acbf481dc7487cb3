"""Tamper evidence and erasure through a real `parsnip` process and the `parsnip` command:
GET /history/verify, GET /history/head (signed with Ed25519), POST .../erase, `parsnip verify`,
`parsnip erase`, `parsnip rebuild`'s progress. Tampering is done as a superuser would: with the
log's triggers disabled."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tests.conftest import ROOT, start_server, stop_server

MASTER = {"X-Parse-Master-Key": "test-master"}
SECRET = "jane.doe@example.com"


def sql(dsn: str, *statements: str) -> list:
    async def run() -> list:
        conn = await asyncpg.connect(dsn)
        try:
            out = []
            for s in statements:
                out = await conn.fetch(s)
            return out
        finally:
            await conn.close()

    return asyncio.run(run())


def tamper(dsn: str, statement: str) -> None:
    """A superuser's change behind the log's back: its triggers off, the change, triggers on."""
    sql(dsn, "ALTER TABLE parsnip_events DISABLE TRIGGER USER", statement,
        "ALTER TABLE parsnip_events ENABLE TRIGGER USER")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parsnip.api.cli", *args, "--masterKey", "x"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def server(fresh_dsn):
    info = start_server(fresh_dsn, "--readOnlyMasterKey", "read-only")
    yield info
    stop_server(info)


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
        yield c


def _person(client, dsn: str) -> tuple[str, list[int]]:
    """A Person with personal data, created then changed twice: its objectId and log positions."""
    oid = client.post("/classes/Person", json={"email": SECRET, "n": 1}, headers=MASTER).json()["objectId"]
    client.put(f"/classes/Person/{oid}", json={"n": {"__op": "Increment", "amount": 4}}, headers=MASTER)
    client.put(f"/classes/Person/{oid}", json={"nick": "JD"}, headers=MASTER)
    client.post("/classes/Other", json={"keep": "me"}, headers=MASTER)
    rows = sql(dsn, f"SELECT position FROM parsnip_events WHERE object_id = '{oid}' ORDER BY position")
    return oid, [r[0] for r in rows]


def test_verify_answers_the_chain_to_the_master_key_only(client, server):
    _person(client, server.dsn)
    denied = client.get("/history/verify")
    assert (denied.status_code, denied.json()) == (403, {"error": "Permission denied"})
    for key in ("test-master", "read-only"):
        r = client.get("/history/verify", headers={"X-Parse-Master-Key": key})
        assert r.status_code == 200
        [(position, hash_)] = sql(server.dsn, "SELECT position, hash FROM parsnip_log_head")
        assert r.json() == {"ok": True, "checked": position, "head": {"position": position, "hash": hash_.hex()},
                            "brokenAt": None}


# Each way a superuser could change the log behind its back, and the position verify names.
TAMPERING = {
    "a payload": ("UPDATE parsnip_events SET payload = payload || '\\x00'::bytea WHERE position = {p}", "{p}"),
    "a payload and its digest": (
        "UPDATE parsnip_events SET payload = payload || '\\x00'::bytea,"
        " payload_digest = sha256(payload || '\\x00'::bytea) WHERE position = {p}", "{p}"),
    "who made it": ("UPDATE parsnip_events SET user_id = 'someone' WHERE position = {p}", "{p}"),
    "its time": ("UPDATE parsnip_events SET at = at + interval '1 second' WHERE position = {p}", "{p}"),
    "a deleted event": ("DELETE FROM parsnip_events WHERE position = {p}", "{p}"),
    "a payload faked as erased": ("UPDATE parsnip_events SET payload = ''::bytea, erased_by = {p} + 1 WHERE position = {p}", "{p}"),
    "a rewritten hash": ("UPDATE parsnip_events SET hash = sha256(hash) WHERE position = {p}", "{p}"),
    "the head's hash": ("UPDATE parsnip_log_head SET hash = sha256(hash)", "head"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_change_behind_the_logs_back_is_found_where_it_was_made(client, server, how):
    _, positions = _person(client, server.dsn)
    p = positions[1]
    statement, where = TAMPERING[how]
    tamper(server.dsn, statement.format(p=p))
    head = sql(server.dsn, "SELECT position FROM parsnip_log_head")[0][0]
    expected = head if where == "head" else p
    r = client.get("/history/verify", headers=MASTER).json()
    assert (r["ok"], r["brokenAt"]) == (False, expected), r
    assert r["checked"] == (head if where == "head" else expected - 1)
    out = cli("verify", "--databaseURI", server.dsn)
    assert out.returncode == 1, out.stdout + out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["brokenAt"] == expected


def test_erasure_removes_the_data_from_the_log_and_the_chain_still_verifies(client, server):
    oid, positions = _person(client, server.dsn)
    assert client.post(f"/history/Person/{oid}/erase", json={}).status_code == 403
    ro = client.post(f"/history/Person/{oid}/erase", json={}, headers={"X-Parse-Master-Key": "read-only"})
    assert (ro.status_code, ro.json()["code"]) == (400, 119)
    r = client.post(f"/history/Person/{oid}/erase", json={"by": "dpo@example.com", "reason": "GDPR art. 17"},
                    headers=MASTER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["erased"] == positions and body["position"] > positions[-1] and body["at"].endswith("Z")
    # Gone from the live table and from every event's payload; the other object is untouched.
    assert client.get(f"/classes/Person/{oid}", headers=MASTER).json()["code"] == 101
    assert client.get("/classes/Other", headers=MASTER).json()["results"][0]["keep"] == "me"
    rows = sql(server.dsn, "SELECT position, payload, erased_by FROM parsnip_events ORDER BY position")
    assert not any(SECRET.encode() in bytes(row["payload"]) for row in rows)
    assert [(row["position"], bytes(row["payload"]), row["erased_by"]) for row in rows if row["position"] in positions] \
        == [(p, b"", body["position"]) for p in positions]
    # The tombstone says who, when and why.
    [tomb] = sql(server.dsn, f"SELECT kind, object_id, master, at FROM parsnip_events WHERE position = {body['position']}")
    assert (tomb["kind"], tomb["object_id"], tomb["master"]) == ("erase", oid, True)
    assert client.get("/history/verify", headers=MASTER).json()["ok"] is True
    # Replaying the log gives the same projections (the erased object stays away); twice: nothing left.
    rebuilt = cli("rebuild", "--databaseURI", server.dsn)
    assert "identical to the tables it replaced" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
    assert "events/s" in rebuilt.stdout
    again = client.post(f"/history/Person/{oid}/erase", json={}, headers=MASTER)
    assert (again.status_code, again.json()["code"]) == (404, 101)
    assert cli("verify", "--databaseURI", server.dsn).returncode == 0


def test_erasure_takes_the_object_out_of_history_and_time_travel(client, server):
    oid, positions = _person(client, server.dsn)
    before = positions[-1]
    assert len(client.get(f"/history/Person/{oid}", headers=MASTER).json()["results"]) == 3
    assert client.post(f"/history/Person/{oid}/erase", json={}, headers=MASTER).status_code == 200
    # Gone from the history table, as from the log: its history answers as a missing object's,
    # and the class as it was before the erasure no longer holds it.
    gone = client.get(f"/history/Person/{oid}", headers=MASTER)
    assert gone.json() == client.get("/history/Person/neverthere", headers=MASTER).json()
    past = client.get("/classes/Person", params={"asOf": str(before)}, headers=MASTER).json()["results"]
    assert oid not in [o["objectId"] for o in past]
    versions = sql(server.dsn, f"SELECT count(*) FROM \"h_Person\" WHERE object_id = '{oid}'")[0][0]
    assert versions == 0
    assert not any(SECRET in str(dict(r)) for r in sql(server.dsn, 'SELECT * FROM "h_Person"'))
    rebuilt = cli("rebuild", "--databaseURI", server.dsn)
    assert "identical to the tables it replaced" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr


def test_erasure_of_a_deleted_object_and_bad_requests(client, server):
    oid, _ = _person(client, server.dsn)
    client.delete(f"/classes/Person/{oid}", headers=MASTER)
    assert client.post(f"/history/Person/{oid}/erase", json={}, headers=MASTER).status_code == 200
    for path, body, code in [(f"/history/Person/nope/erase", {}, 101), (f"/history/Person/{oid}/erase", {"reason": 3}, 107),
                             ("/history/1bad/x/erase", {}, 103)]:
        r = client.post(path, json=body, headers=MASTER)
        assert r.json()["code"] == code and r.status_code in (400, 404), r.text
    assert client.get("/history/verify", headers=MASTER).json()["ok"] is True


def test_parsnip_erase_then_parsnip_verify(client, server):
    oid, positions = _person(client, server.dsn)
    out = cli("erase", "--databaseURI", server.dsn, "--class", "Person", "--object", oid, "--by", "ops", "--reason", "asked")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["erased"] == positions
    assert client.get(f"/classes/Person/{oid}", headers=MASTER).json()["code"] == 101  # the live copy went too
    verified = cli("verify", "--databaseURI", server.dsn)
    assert verified.returncode == 0 and "events/s" in verified.stdout, verified.stdout + verified.stderr
    missing = cli("erase", "--databaseURI", server.dsn, "--class", "Person", "--object", oid)
    assert missing.returncode == 1 and "Object not found" in missing.stderr


def test_the_head_without_a_key_is_unsigned(client, server):
    _person(client, server.dsn)
    assert client.get("/history/head").status_code == 403
    head = client.get("/history/head", headers=MASTER).json()
    assert set(head) == {"position", "hash", "at"}
    assert client.get("/history/verify", headers=MASTER).json()["head"] == {"position": head["position"], "hash": head["hash"]}


def _raw(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())).decode()


def _pem_file(key: Ed25519PrivateKey, tmp_path) -> str:
    path = tmp_path / "head.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


@pytest.mark.parametrize("form", [_raw, _pem_file], ids=["base64 raw", "PEM file"])
def test_the_signed_head_verifies_with_the_public_key(fresh_dsn, tmp_path, form):
    key = Ed25519PrivateKey.generate()
    setting = form(key, tmp_path) if form is _pem_file else form(key)
    info = start_server(fresh_dsn, "--historySigningKey", setting)
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id, **MASTER}) as c:
            c.post("/classes/Thing", json={"a": 1})
            head = c.get("/history/head").json()
    finally:
        stop_server(info)
    public = key.public_key()
    assert base64.b64decode(head["publicKey"]) == public.public_bytes(serialization.Encoding.Raw,
                                                                      serialization.PublicFormat.Raw)
    message = "\n".join(["parsnip-log-head/1", info.app_id, str(head["position"]), head["hash"], head["at"]]).encode()
    Ed25519PublicKey.from_public_bytes(base64.b64decode(head["publicKey"])).verify(
        base64.b64decode(head["signature"]), message)  # raises if it does not verify
    assert head["position"] == 2 and len(head["hash"]) == 64


def test_a_signing_key_that_cannot_be_read_stops_the_start(fresh_dsn):
    with pytest.raises(RuntimeError, match="historySigningKey"):
        start_server(fresh_dsn, "--historySigningKey", "not a key")
