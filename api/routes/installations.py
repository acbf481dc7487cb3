"""/installations (and /classes/_Installation): devices register themselves; only the master
key may list or delete them, as Parse Server allows.

A POST naming an installationId that exists updates that installation (a device registering
again), so an app can save its installation without knowing its objectId.
"""

from __future__ import annotations

import asyncpg

from parsnip.api.routes import Reply, objects
from parsnip.core.errors import ParseError
from parsnip.core.layout import INSTALLATION_TABLE
from parsnip.core.schema import describe
from parsnip.core.security.clp import DENIED
from parsnip.core.values import type_of

INSTALLATION = "_Installation"


def _require_master(req) -> None:
    if not req.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, DENIED)


async def find(rt, req) -> Reply:
    _require_master(req)
    return await objects.find(rt, req, INSTALLATION)


async def delete(rt, req, object_id: str) -> Reply:
    _require_master(req)
    return await objects.delete(rt, req, INSTALLATION, object_id)


async def get(rt, req, object_id: str) -> Reply:
    return await objects.get(rt, req, INSTALLATION, object_id)


async def update(rt, req, object_id: str) -> Reply:
    return await objects.update(rt, req, INSTALLATION, object_id)


async def create(rt, req) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    installation_id = body.get("installationId")
    if installation_id is not None and not isinstance(installation_id, str):
        raise ParseError(ParseError.INCORRECT_TYPE, "schema mismatch for _Installation.installationId; "
                         f"expected String but got {describe(type_of(installation_id))}")
    if not installation_id and not body.get("deviceToken"):
        raise ParseError(ParseError.MISSING_REQUIRED_FIELD,
                         "at least one ID field (deviceToken, installationId) must be specified in this operation")
    existing = await rt.read(_by_installation_id, installation_id) if installation_id else None
    if existing is None and not body.get("deviceType"):
        raise ParseError(ParseError.MISSING_REQUIRED_FIELD, "deviceType must be specified in this operation")
    if existing is not None:
        fields = {k: v for k, v in body.items() if k != "installationId"}
        return await objects.update(rt, type(req)(
            "PUT", req.path, req.params, fields, master=req.master, read_only_master=req.read_only_master,
            keys=req.keys, client_ip=req.client_ip, auth=req.auth,
        ), INSTALLATION, existing)
    return await objects.create(rt, req, INSTALLATION)


async def _by_installation_id(conn: asyncpg.Connection, installation_id: str) -> str | None:
    try:
        return await conn.fetchval(
            f"""SELECT object_id FROM {INSTALLATION_TABLE} WHERE data->>'installationId' = $1""", installation_id)
    except asyncpg.exceptions.UndefinedTableError:
        return None
