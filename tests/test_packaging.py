"""The distribution installs one import package, `parsnip`, and the code imports itself by it.

A host application very often has its own `api/` or `core/` package: Parsnip must never shadow
it nor be shadowed by it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

_FOLDERS = ("core", "api", "livequery", "projections")


def _tracked_python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in out.split()]


def test_no_module_imports_a_folder_as_a_top_level_package():
    bare = []
    for path in _tracked_python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bare += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                     if name.split(".")[0] in _FOLDERS]
    assert not bare, "import these as parsnip.<folder>: " + ", ".join(bare)


def test_every_package_folder_is_in_the_distribution():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"parsnip"} | {
        "parsnip." + str(init.parent.relative_to(ROOT)).replace(os.sep, ".")
        for folder in _FOLDERS for init in (ROOT / folder).rglob("__init__.py")
    }
    assert listed == found
    assert config["package-dir"] == {"parsnip": "parsnip", **{f"parsnip.{f}": f for f in _FOLDERS}}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths of a virtualenv")
def test_the_wheel_in_a_fresh_virtualenv_has_one_top_level_package(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True)
    [wheel] = wheels.glob("parsnip_server-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist() if not name.split("/")[0].endswith(".dist-info")}
        top_level = next(n for n in zf.namelist() if n.endswith(".dist-info/top_level.txt"))
        assert zf.read(top_level).decode().split() == ["parsnip"]
    assert tops == {"parsnip"}

    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True,
                   timeout=600)
    outside = tmp_path / "elsewhere"  # not the repository: its folders must not be what is imported
    outside.mkdir()
    probe = ("import pkgutil, parsnip, parsnip.api.server, parsnip.livequery.server;"
             "print(parsnip.__file__);"
             "print(sorted(m.name for m in pkgutil.iter_modules() if m.name in ('core','api','livequery','projections')))")
    out = subprocess.run([str(python), "-c", probe], cwd=outside, check=True, capture_output=True, text=True).stdout
    location, strays = out.splitlines()
    assert location.startswith(str(env)) and strays == "[]"
    usage = subprocess.run([str(env / "bin" / "parsnip"), "--help"], cwd=outside, check=True,
                           capture_output=True, text=True).stdout
    assert usage.startswith("usage: parsnip")


@pytest.mark.parametrize("module", ["parsnip", "parsnip.api.cli"])
def test_importing_the_package_or_the_cli_leaves_the_app_unloaded(module):
    """`parsnip --cluster` points prometheus_client at a shared directory before it is imported;
    so neither `import parsnip` nor the CLI module may pull in the app (and its metrics)."""
    code = f"import sys, {module}; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
