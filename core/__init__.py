"""Parsnip's domain: Parse values, errors, schema, operators, queries, the event log and the bus.

Nothing here imports `api`, `livequery` or `projections`; they depend on `core`, never the reverse.
"""
