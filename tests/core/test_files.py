"""Parse files' names, types and options as Parse Server 9 makes them (core/files/), the local
adapter's reads and writes, and the range rule of downloads."""

from __future__ import annotations

import pytest

from parsnip.core.config import Config
from parsnip.core.errors import ParseError
from parsnip.core.files import names
from parsnip.core.files.adapter import FileNotFound
from parsnip.core.files.local import LocalFilesAdapter
from parsnip.core.files.options import file_options
from parsnip.core.services.files import parse_range


def test_generated_names_keep_the_clients_name_after_a_random_prefix():
    a, t = names.stored_name_and_type("photo.JPG", None, preserve=False)
    b, _ = names.stored_name_and_type("photo.JPG", None, preserve=False)
    assert a != b and a.endswith("_photo.JPG") and len(a) == 32 + 1 + len("photo.JPG") and t == "image/jpeg"
    assert names.stored_name_and_type("photo.jpg", "text/plain", preserve=True) == ("photo.jpg", "image/jpeg")
    # No extension: the type's is added; an unknown extension keeps the client's type.
    assert names.stored_name_and_type("clip", "video/mp4", preserve=True) == ("clip.mp4", "video/mp4")
    assert names.stored_name_and_type("x.qqq", "app/x-q", preserve=True) == ("x.qqq", "app/x-q")


@pytest.mark.parametrize("name", ["a.txt", "_x", "My File-1~@.png", "a" * 128])
def test_good_names(name):
    names.check_name(name)


@pytest.mark.parametrize("name, message", [
    ("a" * 129, "Filename too long."), (".x", "Filename contains invalid characters."),
    ("a/b", "Filename contains invalid characters."), ("é.txt", "Filename contains invalid characters."),
    ("", "Filename contains invalid characters."),
])
def test_bad_names_are_122(name, message):
    with pytest.raises(ParseError) as e:
        names.check_name(name)
    assert (e.value.code, e.value.message) == (122, message)


@pytest.mark.parametrize("name, content_type, refused", [
    ("a.html", None, "html"), ("a.xhtml", None, "xhtml"), ("a.SVG", None, "SVG"), ("a.svgz", None, "svgz"),
    ("a.xml", None, "xml"), ("a.xsl", None, "xsl"), ("a.rdf", None, "rdf"), ("a.mathml", None, "mathml"),
    ("a", "text/html", "html"), ("a", "image/svg+xml; charset=utf-8", "svg+xml"), ("a", "svg", "svg"),
    ("a.txt", "text/html", None), ("a.php", None, None), ("a.js", None, None), ("a.htmlx", None, None),
    ("a", "application/vnd.api+json", None),
])
def test_default_extensions_refuse_html_like_files(name, content_type, refused):
    if refused is None:
        names.check_extension(name, content_type, names.DEFAULT_EXTENSIONS)
        return
    with pytest.raises(ParseError) as e:
        names.check_extension(name, content_type, names.DEFAULT_EXTENSIONS)
    assert (e.value.code, e.value.message) == (130, f"File upload of extension {refused} is disabled.")


def test_a_malformed_content_type_without_a_known_extension_is_130():
    with pytest.raises(ParseError) as e:
        names.check_extension("a", "image/", names.DEFAULT_EXTENSIONS)
    assert (e.value.code, e.value.message) == (130, "Invalid Content-Type.")
    names.check_extension("a.html", "text/html", ["*"])  # everything allowed


def test_options_and_their_parse_defaults(tmp_path):
    opts = file_options(Config(dataDir=str(tmp_path)))
    assert (opts.public, opts.anonymous, opts.authenticated) == (False, False, True)
    assert opts.extensions == names.DEFAULT_EXTENSIONS and opts.max_size == 20 * 1024 * 1024
    assert not opts.preserve_name and opts.retention_days == 30
    assert opts.directory == str(tmp_path / "files")  # beside the embedded database
    opts = file_options(Config(databaseURI="postgresql://x/y", maxUploadSize="1mb", preserveFileName=True,
                               fileUpload={"enableForPublic": True, "fileExtensions": "^png$"},
                               filesAdapter={"directory": str(tmp_path / "elsewhere")}, fileRetentionDays=0))
    assert opts.public and opts.extensions == ["^png$"] and opts.max_size == 1024 * 1024 and opts.preserve_name
    assert opts.directory == str(tmp_path / "elsewhere") and opts.retention_days == 0


@pytest.mark.parametrize("header, expected", [
    (None, None), ("bytes=0-9", (0, 10)), ("bytes=5-", (5, 100)), ("bytes=-10", (90, 100)),
    ("bytes=-500", (0, 100)), ("bytes=90-200", (90, 100)), ("bytes=100-", "unsatisfiable"),
    ("bytes=-0", "unsatisfiable"), ("bytes=9-3", None), ("bytes=0-1,3-4", None), ("items=0-1", None),
    ("bytes=a-b", None), ("bytes=-", None),
])
def test_ranges(header, expected):
    assert parse_range(header, 100) == expected


async def test_local_adapter_writes_whole_files_and_reads_ranges(tmp_path):
    adapter = LocalFilesAdapter(str(tmp_path / "files"))

    async def chunks():
        for part in (b"hello ", b"", b"world"):
            yield part

    await adapter.put("n.txt", chunks(), "text/plain")
    assert await adapter.size("n.txt") == 11 and await adapter.size("other") is None
    assert b"".join([c async for c in await adapter.get("n.txt")]) == b"hello world"
    assert b"".join([c async for c in await adapter.get("n.txt", 6, 9)]) == b"wor"
    with pytest.raises(FileNotFound):
        await adapter.get("absent")

    async def failing():
        yield b"part"
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError):
        await adapter.put("broken.bin", failing(), None)
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["n.txt"]  # no half file left
    await adapter.delete("n.txt")
    await adapter.delete("n.txt")  # absent is not an error
    assert await adapter.size("n.txt") is None
