"""`--dev`: reload the cloud module when a Python file of its folder changes, without restarting.

The runtime runs `watch` in its nursery. It polls the files' modification times (no dependency,
any file system), imports the module again in a worker thread and hands the new `Cloud` to
`apply` (`Runtime.use_cloud`), which swaps it in at once. A module that fails to import keeps the
one in use, and one log line says why.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import trio

from parsnip.core.cloud.loader import SKIPPED_FOLDERS, CloudLoadError, reload_cloud, source_folder
from parsnip.core.cloud.registry import Cloud

logger = logging.getLogger("parsnip.cloud")

POLL_INTERVAL = 0.5  # seconds between two looks at the files

Snapshot = dict[str, tuple[int, int]]


def snapshot(folder: str) -> Snapshot:
    """The modification time and size of every Python file under `folder` (installed packages,
    caches and hidden folders left out)."""
    found: Snapshot = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:  # removed between the listing and the look
                    continue
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


async def watch(spec: str, apply: Callable[[Cloud], None], interval: float = POLL_INTERVAL) -> None:
    """Until cancelled: when the files of the cloud module `spec` change, reload it and `apply` it."""
    folder = source_folder(spec)
    seen = await trio.to_thread.run_sync(snapshot, folder)
    logger.info("--dev: watching %s for changes to the cloud code %r", folder, spec)
    while True:
        await trio.sleep(interval)
        current = await trio.to_thread.run_sync(snapshot, folder)
        if current == seen:
            continue
        seen = current
        try:
            cloud = await trio.to_thread.run_sync(reload_cloud, spec)
        except CloudLoadError as err:
            logger.error("cloud code changed but cannot be loaded; the previous version keeps running: %s", err)
            continue
        try:
            apply(cloud)
        except Exception as exc:  # a registration the runtime refuses: say so, keep watching
            logger.error("cloud code %r reloaded but could not be put in use: %s", spec, exc, exc_info=exc)
            continue
        logger.info("cloud code %r reloaded: %d functions, %d jobs, %d triggers", spec, len(cloud.functions),
                    len(cloud.jobs), len(cloud.triggers))
