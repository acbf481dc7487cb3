"""The local-disk adapter: one file per name in a directory, written under a temporary name and
renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import secrets
from typing import Any, AsyncIterator, Mapping

import trio

from parsnip.core.files.adapter import FileNotFound

READ_CHUNK = 256 * 1024


class LocalFilesAdapter:
    """Bytes under `directory` (made on first use); names are already checked (core/files/names.py)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, name: str) -> trio.Path:
        if "/" in name or name in (".", ".."):  # names are checked upstream; never leave the folder
            raise FileNotFound(name)
        return trio.Path(self.directory, name)

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                  metadata: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> None:
        target = self._path(name)
        await trio.Path(self.directory).mkdir(parents=True, exist_ok=True)
        partial = trio.Path(self.directory, f".{secrets.token_hex(8)}.part")
        try:
            async with await partial.open("wb") as out:
                async for chunk in chunks:
                    await out.write(chunk)
            await partial.rename(target)
        except BaseException:
            with trio.CancelScope(shield=True):
                await _unlink(partial)
            raise

    async def get(self, name: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        try:
            handle = await self._path(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFound(name) from None
        return _read(handle, start, end)

    async def size(self, name: str) -> int | None:
        try:
            return (await self._path(name).stat()).st_size
        except (FileNotFoundError, FileNotFound):
            return None

    async def delete(self, name: str) -> None:
        await _unlink(self._path(name))

    def direct_url(self, name: str) -> str | None:
        return None

    def direct_base(self) -> str | None:
        return None


async def _read(handle, start: int, end: int | None) -> AsyncIterator[bytes]:
    """Bytes [start, end) of an open file, a chunk at a time; the file closed however it ends."""
    async with handle:
        await handle.seek(start)
        left = None if end is None else max(0, end - start)
        while left is None or left > 0:
            chunk = await handle.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


async def _unlink(path: trio.Path) -> None:
    try:
        await path.unlink()
    except FileNotFoundError:
        pass
