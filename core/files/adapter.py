"""The one small interface every files adapter (local disk, S3) implements."""

from __future__ import annotations

from typing import Any, AsyncIterator, Mapping, Protocol


class FileNotFound(Exception):
    """The adapter holds no bytes under this name."""


class FilesAdapter(Protocol):
    """Where file bytes live. Names are Parse's generated names (already validated)."""

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                  metadata: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> None: ...
    # metadata and tags: the upload's, for a store that keeps them beside the bytes (S3); the
    # `file` event records them either way.

    async def get(self, name: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...
    # bytes [start, end) ; raises FileNotFound (core/files/adapter.py) when absent
    # (Parsnip's callers also accept an async generator here, whose FileNotFound comes with the
    # first chunk: core/services/files.py reads the first chunk before answering.)

    async def size(self, name: str) -> int | None: ...  # None when absent

    async def delete(self, name: str) -> None: ...  # absent is not an error

    def direct_url(self, name: str) -> str | None: ...  # an adapter's own public URL (S3 directAccess), else None

    def direct_base(self) -> str | None: ...
    # what every direct_url starts with when it is that and the name (encoded as layout.file_url
    # encodes it), so the SQL that builds objects can write it; None when there is no such prefix
