"""`core/cloud/loader.py: reload_cloud` (what `--dev` runs): the cloud module and the modules of its
folder are imported again; installed packages under that folder (a project's .venv) and Parsnip's
own modules are not; a failed import leaves every module as it was."""

from __future__ import annotations

import sys

import pytest

from parsnip.core.cloud import loader
from parsnip.core.cloud.loader import CloudLoadError, load_cloud, reload_cloud

MAIN = """
import helper
import vendored
from parsnip.cloud import Cloud

cloud = Cloud()
VERSION = helper.VERSION
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A cloud module with a helper beside it and a package installed in a .venv under its folder."""
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / "helper.py").write_text("VERSION = 1\n")
    packages = tmp_path / ".venv" / "lib" / "site-packages"
    packages.mkdir(parents=True)
    (packages / "vendored.py").write_text("LOADED = object()\n")
    monkeypatch.syspath_prepend(str(packages))
    yield tmp_path
    for name in ("helper", "vendored", "parsnip_cloud_main"):
        sys.modules.pop(name, None)
    loader._LOADED.pop(str(tmp_path / "main.py"), None)


def test_a_reload_imports_the_folder_again_but_not_installed_packages_nor_parsnip(project):
    spec = str(project / "main.py")
    first = load_cloud(spec)
    helper, vendored, parsnip_cloud = sys.modules["helper"], sys.modules["vendored"], sys.modules["parsnip.cloud"]
    (project / "helper.py").write_text("VERSION = 22\n")

    second = reload_cloud(spec)

    assert second is not first and load_cloud(spec) is second
    assert sys.modules["parsnip_cloud_main"].VERSION == 22
    assert sys.modules["helper"] is not helper
    assert sys.modules["vendored"] is vendored and sys.modules["parsnip.cloud"] is parsnip_cloud


@pytest.mark.parametrize("broken", ["def (:\n", "raise ValueError('no')\n", "cloud = 1\n"])
def test_a_failed_reload_leaves_the_modules_in_use(project, broken):
    spec = str(project / "main.py")
    first = load_cloud(spec)
    modules = {name: sys.modules[name] for name in ("helper", "parsnip_cloud_main")}
    (project / "helper.py").write_text("VERSION = 3\n")
    (project / "main.py").write_text("import helper\n" + broken)

    with pytest.raises(CloudLoadError):
        reload_cloud(spec)

    assert {name: sys.modules[name] for name in modules} == modules
    assert load_cloud(spec) is first
