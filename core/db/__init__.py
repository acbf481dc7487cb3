"""PostgreSQL: the trio-facing gateway to asyncpg, the DDL of the log, the embedded server."""
