"""The files janitor (core/services/files.py: sweep): a deleted file's bytes go once the retention
has passed, unless a live object still holds the file; a kept file's never."""

from __future__ import annotations

import dataclasses

from parsnip.core.commands import Create
from parsnip.core.events import Context
from parsnip.core.files.local import LocalFilesAdapter
from parsnip.core.operations import Op
from parsnip.core.security.auth import MASTER
from parsnip.core.services import files
from parsnip.core.services.base import Caller
from parsnip.core.values import now

BY_MASTER = Caller(MASTER)


async def _one(data: bytes):
    yield data


async def test_the_janitor_removes_expired_unheld_bytes_only(runtime, tmp_path):
    runtime.files = LocalFilesAdapter(str(tmp_path))
    names = [(await files.upload(runtime, BY_MASTER, f"{n}.txt", files.Upload(_one(n.encode()), "text/plain")))["name"]
             for n in ("kept", "held", "dropped")]
    kept, held, dropped = names
    await runtime.write([Create("Doc", {"f": Op("Set", {"__type": "File", "name": held})})], Context(master=True))
    for name in (held, dropped):
        await files.delete(runtime, BY_MASTER, name)
    start = now().replace(year=2000)

    await files.sweep(runtime, start)  # within the 30 days: everything stays
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)

    runtime.file_options = dataclasses.replace(runtime.file_options, retention_days=0)
    await files.sweep(runtime, start)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept, held])
    assert (await files.download(runtime, held, None)).status == 200  # still held: still served
    assert (await files.download(runtime, dropped, None)).status == 404


async def test_with_no_retention_a_delete_removes_the_bytes_at_once(runtime, tmp_path):
    runtime.files = LocalFilesAdapter(str(tmp_path))
    runtime.file_options = dataclasses.replace(runtime.file_options, retention_days=0)
    name = (await files.upload(runtime, BY_MASTER, "now.txt", files.Upload(_one(b"x"), "text/plain")))["name"]
    assert (tmp_path / name).exists()
    await files.delete(runtime, BY_MASTER, name)
    assert not (tmp_path / name).exists()


async def test_a_file_in_an_array_field_holds_it_one_inside_an_object_does_not(runtime, tmp_path):
    runtime.files = LocalFilesAdapter(str(tmp_path))
    runtime.file_options = dataclasses.replace(runtime.file_options, retention_days=0)
    in_array, in_object = [(await files.upload(runtime, BY_MASTER, f"{n}.txt", files.Upload(_one(b"x"), "text/plain")))["name"]
                           for n in ("in-array", "in-object")]
    gallery = [{"__type": "File", "name": "other.txt"}, {"__type": "File", "name": in_array}]
    await runtime.write([Create("Gallery", {"photos": Op("Set", gallery),
                                            "meta": Op("Set", {"cover": {"__type": "File", "name": in_object}})})],
                        Context(master=True))
    for name in (in_array, in_object):
        await files.delete(runtime, BY_MASTER, name)
    assert (await files.download(runtime, in_array, None)).status == 200
    assert (tmp_path / in_array).exists()
    assert (await files.download(runtime, in_object, None)).status == 404
    assert not (tmp_path / in_object).exists()
