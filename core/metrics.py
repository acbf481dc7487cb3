"""The server's Prometheus metrics, defined once here (prometheus_client) and updated where the
thing happens: the writer, LiveQuery, the request middleware; gauges are set from the running
parts' own attributes when a scrape comes (api/metrics_view.py).

With `--cluster N` each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR (set by
`parsnip` before this module is first imported), so a scrape of any worker sees the whole node.
Each gauge's `multiprocess_mode` says how the workers' values combine into the node's value.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # the `_created` series double the output and say little here

# -- HTTP -------------------------------------------------------------------------------------
REQUEST_SECONDS = Histogram(
    "parsnip_http_request_duration_seconds",
    "REST requests by method, route template and status, and how long each took to answer",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# -- the writer (group commit) ----------------------------------------------------------------
WRITER_BATCH_SIZE = Histogram(
    "parsnip_writer_batch_size",
    "write units (a request's commands) committed together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
WRITER_COMMIT_SECONDS = Histogram(
    "parsnip_writer_commit_seconds",
    "time to apply and commit one batch, retries included",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def observe_batch(units: int, seconds: float) -> None:
    """One writer batch done (called on the gateway's loop thread; prometheus_client locks)."""
    WRITER_BATCH_SIZE.observe(units)
    WRITER_COMMIT_SECONDS.observe(seconds)


# -- the log and this node's place in it --------------------------------------------------------
LOG_HEAD = Gauge("parsnip_log_head_position", "last committed position of the log (read from the database)",
                 multiprocess_mode="max")
DELIVERED = Gauge("parsnip_log_delivered_position",
                  "last position this node's bus has delivered, in order (the slowest worker's)",
                  multiprocess_mode="livemin")
FOLLOWER_LAG = Gauge("parsnip_follower_lag_positions",
                     "committed positions this node has not delivered yet (the worst worker's)",
                     multiprocess_mode="livemax")

# -- the database -------------------------------------------------------------------------------
DATABASE_UP = Gauge("parsnip_database_up", "1 when PostgreSQL answers (every worker), else 0",
                    multiprocess_mode="livemin")
POOL_SIZE = Gauge("parsnip_db_pool_connections", "open connections in the PostgreSQL pools",
                  multiprocess_mode="livesum")
POOL_IN_USE = Gauge("parsnip_db_pool_in_use", "pooled connections taken by a query or transaction now",
                    multiprocess_mode="livesum")
POOL_MAX = Gauge("parsnip_db_pool_max", "the pools' size limit (databasePoolSize per process)",
                 multiprocess_mode="livesum")

# -- LiveQuery -----------------------------------------------------------------------------------
LQ_CONNECTIONS = Gauge("parsnip_livequery_connections", "open LiveQuery websockets",
                       multiprocess_mode="livesum")
LQ_SUBSCRIPTIONS = Gauge("parsnip_livequery_subscriptions", "LiveQuery subscriptions",
                         multiprocess_mode="livesum")
LQ_QUEUED = Gauge("parsnip_livequery_queued_messages", "messages waiting in the clients' send queues",
                  multiprocess_mode="livesum")
LQ_QUEUE_MAX = Gauge("parsnip_livequery_queue_max_depth", "the longest client send queue",
                     multiprocess_mode="livemax")
LQ_DISPATCH_LAG = Gauge("parsnip_livequery_dispatch_lag_positions",
                        "delivered positions the LiveQuery dispatcher has not handled yet",
                        multiprocess_mode="livemax")
LQ_CUT_OFF = Counter("parsnip_livequery_clients_cut_off",
                     "LiveQuery clients dropped because their send queue passed maxQueue (error 5)")
