"""Loading the user's cloud module (Parse's option `cloud`): a file path (`main.py`) or a
dotted module name; its attribute `cloud` must be a `Cloud`. Loaded once per process."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

from parsnip.core.cloud.registry import Cloud

_LOADED: dict[str, Cloud] = {}


class CloudLoadError(Exception):
    """The cloud module cannot be used: the server refuses to start, saying why."""


def load_cloud(spec: str | None) -> Cloud | None:
    """The `Cloud` of the module `spec` names (None when there is no cloud option)."""
    if not spec:
        return None
    if spec not in _LOADED:
        _LOADED[spec] = _load(spec)
    return _LOADED[spec]


def _load(spec: str) -> Cloud:
    try:
        module = _import_file(spec) if spec.endswith(".py") or os.sep in spec else importlib.import_module(spec)
    except CloudLoadError:
        raise
    except BaseException as exc:  # SystemExit from a module is a failure to load, too
        raise CloudLoadError(f"cannot load cloud code {spec!r}: {type(exc).__name__}: {exc}") from exc
    cloud = getattr(module, "cloud", None)
    if not isinstance(cloud, Cloud):
        found = "no attribute `cloud`" if cloud is None else f"`cloud` is a {type(cloud).__name__}"
        raise CloudLoadError(f"cloud code {spec!r} has {found}; it must define `cloud = Cloud()` "
                             "(from parsnip.cloud import Cloud)")
    return cloud


def _import_file(path: str) -> Any:
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise CloudLoadError(f"cannot load cloud code {path!r}: no such file ({full})")
    folder = os.path.dirname(full)
    if folder not in sys.path:  # the module's sibling modules import as in a script
        sys.path.insert(0, folder)
    name = "parsnip_cloud_" + os.path.splitext(os.path.basename(full))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise CloudLoadError(f"cannot load cloud code {path!r}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
