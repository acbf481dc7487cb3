"""`--dev`: a real server reloads its cloud module when the module, or a module of its folder,
changes; its functions and triggers are swapped as a whole; a module that fails to import keeps
the one in use (and the log says why); without `--dev` nothing is reloaded."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud


def cloud_source(version: str, trigger_class: str) -> str:
    """A cloud module whose answers say which `version` it is, with a before_save on `trigger_class`."""
    return textwrap.dedent(f'''
        from parsnip.cloud import Cloud

        import words

        cloud = Cloud()

        @cloud.define("hello")
        async def hello(req):
            return words.GREETING + " {version}"

        @cloud.define("only_{version}")
        async def only(req):
            return "{version}"

        @cloud.before_save("{trigger_class}")
        async def stamp(req):
            req.object.set("stampedBy", "{version}")
    ''')


def edit(path: Path, text: str) -> None:
    """Write `text` as an editor does; the new modification time is what the server sees."""
    path.write_text(text)


def answer(api: httpx.Client, name: str) -> tuple[int, dict]:
    r = api.post(f"/functions/{name}")
    return r.status_code, r.json()


def eventually(check, timeout: float = 10.0):
    """The first truthy value of `check()` within `timeout` seconds (the server polls every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def start(admin_dsn: str, folder: Path, *extra: str):
    (folder / "words.py").write_text('GREETING = "Hello"\n')
    return server_with_cloud(admin_dsn, folder, cloud_source("v1", "Note"), *extra)


@pytest.fixture(scope="module")
def dev_server(admin_dsn, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cloud_dev")
    with start(admin_dsn, folder, "--dev") as info:
        yield info, folder


@pytest.fixture
def api(dev_server):
    info, _ = dev_server
    with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as client:
        yield client


def test_an_edited_module_is_reloaded_with_its_functions_and_triggers_swapped(api, dev_server):
    _, folder = dev_server
    assert answer(api, "hello") == (200, {"result": "Hello v1"})
    assert api.post("/classes/Note", json={}).json()["stampedBy"] == "v1"

    edit(folder / "main.py", cloud_source("v2", "Memo"))

    assert eventually(lambda: answer(api, "hello") == (200, {"result": "Hello v2"}))
    assert answer(api, "only_v2") == (200, {"result": "v2"})
    assert answer(api, "only_v1") == (400, {"code": 141, "error": 'Invalid function: "only_v1"'})
    created = api.post("/classes/Note", json={}).json()  # the old trigger is gone, not kept beside
    assert "stampedBy" not in created
    assert "stampedBy" not in api.get(f"/classes/Note/{created['objectId']}").json()
    assert api.post("/classes/Memo", json={}).json()["stampedBy"] == "v2"
    # The server's own `_User` rules (built-in hooks) survive the swap: the password is hashed.
    assert api.post("/users", json={"username": "ada", "password": "secret1"}).status_code == 201
    assert api.post("/login", json={"username": "ada", "password": "secret1"}).status_code == 200


def test_an_edited_module_of_the_folder_is_reloaded_too(api, dev_server):
    _, folder = dev_server
    before = answer(api, "hello")[1]["result"]
    edit(folder / "words.py", 'GREETING = "Bonjour"\n')
    expected = before.replace("Hello", "Bonjour")
    assert eventually(lambda: answer(api, "hello") == (200, {"result": expected}))


@pytest.mark.parametrize("broken", [
    "def hello(:\n",  # a syntax error
    "import no_such_module_anywhere\n",  # an import that fails
    "raise RuntimeError('not today')\n",  # the module raises
    "from parsnip.cloud import Cloud\ncloud = 42\n",  # no Cloud
])
def test_a_module_that_fails_to_load_keeps_the_one_in_use_and_the_log_says_why(api, dev_server, broken):
    info, folder = dev_server
    good = (folder / "main.py").read_text()
    before = answer(api, "hello")
    log_size = Path(info.output).stat().st_size

    edit(folder / "main.py", broken)
    line = eventually(lambda: next((l for l in Path(info.output).read_text()[log_size:].splitlines()
                                    if "cannot be loaded" in l), None))
    assert line and "the previous version keeps running" in line and "main.py" in line
    assert answer(api, "hello") == before

    edit(folder / "main.py", good.replace('" v', '" fixed v'))  # fixed: the next change loads again
    assert eventually(lambda: answer(api, "hello")[1]["result"].split(" ")[1] == "fixed")
    assert info.process.poll() is None


def test_without_dev_nothing_is_reloaded(admin_dsn, tmp_path):
    with start(admin_dsn, tmp_path) as info:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as api:
            assert answer(api, "hello") == (200, {"result": "Hello v1"})
            edit(tmp_path / "main.py", cloud_source("v2", "Memo"))
            time.sleep(1.5)  # three of --dev's polls
            assert answer(api, "hello") == (200, {"result": "Hello v1"})
