"""Projections: the queryable tables derived from the event log, their reads and their rebuild."""
