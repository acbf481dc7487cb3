"""Installations: devices register themselves; only the master key may list or delete them
(Parse's REST layer refuses others with 119).

A create naming an installationId that exists updates that installation (a device registering
again), so an app can save its installation without knowing its objectId.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.layout import INSTALLATION_TABLE
from parsnip.core.schema import describe
from parsnip.core.services import objects
from parsnip.core.services.access import Refusal, require_master
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.objects import Found, Saved
from parsnip.core.values import type_of

INSTALLATION = "_Installation"


async def find(rt: Backend, caller: Caller, class_name: str, params: dict[str, Any]) -> Found:
    require_master(caller.auth, Refusal.FORBIDDEN)
    return await objects.find(rt, caller, INSTALLATION, params)


async def get(rt: Backend, caller: Caller, class_name: str, object_id: str, params: dict[str, Any]) -> str:
    return await objects.get(rt, caller, INSTALLATION, object_id, params)


async def update(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> Saved:
    return await objects.update(rt, caller, INSTALLATION, object_id, body)


async def delete(rt: Backend, caller: Caller, class_name: str, object_id: str) -> None:
    require_master(caller.auth, Refusal.FORBIDDEN)
    await objects.delete(rt, caller, INSTALLATION, object_id)


async def create(rt: Backend, caller: Caller, class_name: str, body: Any) -> Saved:
    """Register a device: a new installation, or an update of the one with its installationId."""
    fields = body if isinstance(body, dict) else {}
    installation_id = fields.get("installationId")
    if installation_id is not None and not isinstance(installation_id, str):
        raise ParseError(ParseError.INCORRECT_TYPE, "schema mismatch for _Installation.installationId; "
                         f"expected String but got {describe(type_of(installation_id))}")
    if not installation_id and not fields.get("deviceToken"):
        raise ParseError(ParseError.MISSING_REQUIRED_FIELD,
                         "at least one ID field (deviceToken, installationId) must be specified in this operation")
    existing = await rt.read(_by_installation_id, installation_id) if installation_id else None
    if existing is None and not fields.get("deviceType"):
        raise ParseError(ParseError.MISSING_REQUIRED_FIELD, "deviceType must be specified in this operation")
    if existing is not None:
        return await objects.update(rt, caller, INSTALLATION, existing,
                                    {k: v for k, v in fields.items() if k != "installationId"})
    return await objects.create(rt, caller, INSTALLATION, body)


async def _by_installation_id(conn: asyncpg.Connection, installation_id: str) -> str | None:
    try:
        return await conn.fetchval(
            f"""SELECT object_id FROM {INSTALLATION_TABLE} WHERE data->>'installationId' = $1""", installation_id)
    except asyncpg.exceptions.UndefinedTableError:
        return None
