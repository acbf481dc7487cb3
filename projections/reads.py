"""The projections' side of `core/reads.py: ObjectReader`: the functions that serve REST
reads, gathered for the services (wired in by `api/runtime.py`)."""

from __future__ import annotations

from parsnip.projections import aggregate as _aggregate
from parsnip.projections import reader
from parsnip.projections import versions as _versions


class ProjectionReads:
    """`ObjectReader` over the projection tables."""

    find = staticmethod(reader.find)
    get = staticmethod(reader.get)
    classes = staticmethod(reader.classes)
    aggregate = staticmethod(_aggregate.aggregate)
    distinct = staticmethod(_aggregate.distinct)
    versions = staticmethod(_versions.versions)


READS = ProjectionReads()
