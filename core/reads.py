"""The read side's contract with the projections: what a read asks for (`FindOptions`) and
the `ObjectReader` protocol, which `projections` implements and `api/runtime.py` hands to the
services, as it hands `projections.store.Projector` to the writer (`core` never imports
`projections`).

Each reader function runs on the gateway's loop with a pooled connection as its first
argument (`Backend.read(fn, ...)`), and returns objects as the JSON text PostgreSQL built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from parsnip.core.history.entries import Version
from parsnip.core.history.moment import Moment
from parsnip.core.query.ast import And, Node
from parsnip.core.schema import ClassSchema
from parsnip.core.security.guard import ReadAccess


@dataclass(frozen=True, slots=True)
class FindOptions:
    where: Node = And(())
    order: str | None = None
    limit: int = 100
    skip: int = 0
    keys: Sequence[str] | None = None
    count: bool = False
    file_fields: Sequence[str] = ()  # File fields of the class, whose URLs are made on read
    files_base: str = ""  # e.g. "http://host/parse/files/<appId>/"
    exclude_keys: Sequence[str] = ()
    include: Sequence[str] = ()  # dotted paths of pointers to replace by their objects; "*" for all
    file_fields_of: Mapping[str, Sequence[str]] = field(default_factory=dict)  # for included classes
    explain: bool = False
    scalar_fields: frozenset[str] = frozenset()  # String/Number/Boolean fields of the class
    indexed_scalars: frozenset[str] = frozenset()  # those with a btree index on (data->'f')
    text_score: bool = False  # keys=$score: each result carries its $text relevance as `score`
    # What the caller may see (core/security/guard.py); None only for internal reads.
    access: ReadAccess | None = None
    # The same for the classes `include` reaches, and for subqueries.
    access_of: Callable[[str], ReadAccess] | None = None
    subquery_access: Callable | None = None
    # Read the class as it was at this moment (core/history/moment.py); None: as it is now.
    as_of: Moment | None = None

    @property
    def needs_objects(self) -> bool:
        """Whether results must be decoded for work SQL does not do (include, dotted keys)."""
        dotted = any("." in k for k in (*(self.keys or ()), *self.exclude_keys))
        return bool(self.include) or dotted


class ObjectReader(Protocol):
    """The projections' reads (`projections/reads.py: READS`)."""

    async def find(self, conn: Any, class_name: str, opts: FindOptions) -> tuple[list[str], int | None]: ...

    async def get(self, conn: Any, class_name: str, object_id: str, opts: FindOptions) -> str | None: ...

    async def classes(self, conn: Any, class_name: str | None = None) -> dict[str, ClassSchema]: ...

    async def versions(self, conn: Any, class_name: str, object_id: str, opts: FindOptions, after: int,
                       limit: int) -> tuple[list[Version], bool]: ...

    async def aggregate(self, conn: Any, class_name: str, pipeline: Any) -> list[str]: ...

    async def distinct(self, conn: Any, class_name: str, field: str, where: Any) -> list[str]: ...
