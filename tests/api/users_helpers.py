"""Helpers for tests that sign users up and act as them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import httpx


@dataclass
class User:
    id: str
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Parse-Session-Token": self.token}


def signup(api: httpx.Client, **fields) -> User:
    username = fields.pop("username", "u" + secrets.token_hex(5))
    password = fields.pop("password", "pw-" + secrets.token_hex(4))
    r = api.post("/users", json={"username": username, "password": password, **fields})
    assert r.status_code == 201, r.text
    body = r.json()
    return User(body["objectId"], username, password, body["sessionToken"])


def master(server) -> dict[str, str]:
    return {"X-Parse-Master-Key": server.master_key}


def where(q: dict) -> dict[str, str]:
    return {"where": json.dumps(q)}
