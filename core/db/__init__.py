"""PostgreSQL: the trio-facing gateway to asyncpg, its outage monitor, which failures mean
unreachable, and the embedded server. (The log's DDL is `core/log.py`; the projections' is
`projections/store.py`.)"""
