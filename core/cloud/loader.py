"""Loading the user's cloud module (Parse's option `cloud`): a file path (`main.py`) or a
dotted module name; its attribute `cloud` must be a `Cloud`. Loaded once per process, and again
by `reload_cloud` when `--dev` sees its files change (`core/cloud/reload.py`)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

from parsnip.core.cloud.registry import Cloud

_LOADED: dict[str, Cloud] = {}
# Folders under a cloud module's folder that hold no user code of its own (what --dev skips).
SKIPPED_FOLDERS = frozenset({"site-packages", "dist-packages", "__pycache__", "node_modules", ".venv", "venv", ".git"})


class CloudLoadError(Exception):
    """The cloud module cannot be used: the server refuses to start, saying why."""


def load_cloud(spec: str | None, *, dev: bool = False) -> Cloud | None:
    """The `Cloud` of the module `spec` names (None when there is no cloud option). With `dev`
    the module will be reloaded as it changes, so no bytecode is cached for it: a .pyc records
    its source's mtime to the second, and an edit within that second would load the old code."""
    if not spec:
        return None
    if dev:
        sys.dont_write_bytecode = True
    if spec not in _LOADED:
        _LOADED[spec] = _load(spec)
    return _LOADED[spec]


def reload_cloud(spec: str) -> Cloud:
    """Import `spec` again, with the modules of its folder (so an edited helper module is seen
    too). On failure (`CloudLoadError`) the modules in use stay as they were."""
    folder = source_folder(spec)
    ours = {name: module for name, module in list(sys.modules.items()) if _inside(name, module, folder)}
    for name in ours:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        cloud = _load(spec)
    except CloudLoadError:
        for name in [n for n, m in list(sys.modules.items()) if _inside(n, m, folder)]:
            del sys.modules[name]  # half-imported new versions out, the old ones back
        sys.modules.update(ours)
        raise
    _LOADED[spec] = cloud
    return cloud


def source_folder(spec: str) -> str:
    """The folder whose Python files make up the cloud module `spec` (what `--dev` watches)."""
    if _is_file(spec):
        return os.path.dirname(os.path.abspath(spec))
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError) as exc:
        raise CloudLoadError(f"cannot find cloud code {spec!r}: {exc}") from exc
    if found is None or not found.origin:
        raise CloudLoadError(f"cannot find cloud code {spec!r}")
    return os.path.dirname(os.path.abspath(found.origin))


def _inside(name: str, module: Any, folder: str) -> bool:
    """Whether `module` is the user's, from `folder`: never Parsnip's own modules nor installed
    packages, even when the folder holds them (a cloud module at a project's root, its .venv)."""
    path = getattr(module, "__file__", None)
    if not path or name == "parsnip" or name.startswith("parsnip."):
        return False
    path = os.path.abspath(path)
    if not path.startswith(folder + os.sep):
        return False
    return not any(part in SKIPPED_FOLDERS for part in path[len(folder) + 1:].split(os.sep))


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec


def _load(spec: str) -> Cloud:
    try:
        module = _import_file(spec) if _is_file(spec) else importlib.import_module(spec)
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
