"""A file's name and type as Parse Server makes them: the client's name checked (122), the
unique name generated, the Content-Type taken from the extension, and the extension allowlist
(`fileUpload.fileExtensions`) that refuses HTML-like files (130)."""

from __future__ import annotations

import mimetypes
import re
import secrets
from typing import Sequence

from parsnip.core.errors import ParseError

MAX_NAME = 128
_VALID = re.compile(r"[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*")
# Parse 9's default `fileExtensions`: every extension but those browsers render as active
# content (HTML, SVG, XML and their kin), which could read another user's session token.
DEFAULT_EXTENSIONS = [
    r"^(?!([xXsS]?[hH][tT][mM][lL]?(\+[xX][mM][lL])?|[xX][hH][tT]|[sS][vV][gG]([zZ]|\+[xX][mM][lL])?|[xX][mM][lL]"
    r"|[xX][sS][lL][tT]?(\+[xX][mM][lL])?|[xX][sS][dD]|[rR][nN][gG]|[rR][dD][fF](\+[xX][mM][lL])?|[oO][wW][lL]"
    r"|[mM][aA][tT][hH][mM][lL](\+[xX][mM][lL])?)$)"
]
# Python's own table only, not the host's /etc/mime.types: the same answer on every machine.
_MIME = mimetypes.MimeTypes(filenames=())
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")


def check_name(name: str) -> None:
    """122 unless `name` is a name Parse accepts (its adapters' rule: at most 128 characters,
    letters, digits and `@. ~_-`, not starting with a dot, space or `@`)."""
    if len(name) > MAX_NAME:
        raise ParseError(ParseError.INVALID_FILE_NAME, "Filename too long.")
    if not _VALID.fullmatch(name):
        raise ParseError(ParseError.INVALID_FILE_NAME, "Filename contains invalid characters.")


def extension(name: str) -> str:
    """The part after the last dot ('' without one), as Parse reads it."""
    return name.rsplit(".", 1)[1] if "." in name else ""


def type_of(name: str) -> str | None:
    """The Content-Type a name's extension stands for (None: not a known extension)."""
    ext = extension(name)
    if not ext:
        return None
    return _MIME.types_map[True].get("." + ext) or _MIME.types_map[True].get("." + ext.lower())


def stored_name_and_type(name: str, content_type: str | None, preserve: bool) -> tuple[str, str | None]:
    """(the stored name, its Content-Type): a known extension decides the type; a name without
    one gets the type's extension; then a random 32-hex prefix and `_`, unless `preserve`."""
    if extension(name):
        content_type = type_of(name) or content_type
    elif content_type and (ext := _MIME.guess_extension(content_type.split(";")[0].strip())):
        name = name + ("" if name.endswith(".") else ".") + ext.lstrip(".")
    return (name if preserve else f"{secrets.token_hex(16)}_{name}"), content_type


def check_extension(name: str, content_type: str | None, allowed: Sequence[str]) -> None:
    """130 when the name's extension, or (for a name whose extension says no type) the
    Content-Type's subtype, is not allowed by `fileUpload.fileExtensions`."""
    ext = extension(name).split(";")[0].replace(" ", "")
    if ext and not _allowed(ext, allowed):
        raise _refused(ext)
    if (ext and type_of(name)) or not content_type or "*" in allowed:
        return
    kind, _, rest = content_type.partition("/")
    subtype = rest.split(";")[0].strip()
    if not _TOKEN.fullmatch(kind.strip()) or not _TOKEN.fullmatch(subtype):
        bare = (content_type.split(";")[0] if not rest else kind).replace(" ", "")
        if bare and not _allowed(bare, allowed):
            raise _refused(bare)
        raise ParseError(ParseError.FILE_SAVE_ERROR, "Invalid Content-Type.")
    if not _allowed(subtype.replace(" ", ""), allowed):
        raise _refused(subtype)


def _allowed(ext: str, allowed: Sequence[str]) -> bool:
    return any(pattern == "*" or re.search(pattern, ext) for pattern in allowed)


def _refused(ext: str) -> ParseError:
    return ParseError(ParseError.FILE_SAVE_ERROR, f"File upload of extension {ext} is disabled.")
