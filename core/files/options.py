"""The files options read once from the configuration, with Parse Server's names and defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from parsnip.core.config import Config, parse_size
from parsnip.core.files.names import DEFAULT_EXTENSIONS


@dataclass(frozen=True)
class FileOptions:
    """Who may upload, which extensions, how large, whether names keep their client's form,
    where the local adapter writes, and how long a deleted file's bytes are kept."""

    anonymous: bool = False  # fileUpload.enableForAnonymousUser
    authenticated: bool = True  # fileUpload.enableForAuthenticatedUser
    public: bool = False  # fileUpload.enableForPublic
    extensions: list[str] = field(default_factory=lambda: list(DEFAULT_EXTENSIONS))
    max_size: int = 20 * 1024 * 1024
    preserve_name: bool = False
    directory: str = "files"
    retention_days: float = 30.0


def file_options(config: Config) -> FileOptions:
    """`fileUpload`, `maxUploadSize`, `preserveFileName`, `filesAdapter` {"directory"} and
    `fileRetentionDays` as the server uses them."""
    upload = config.fileUpload or {}
    extensions = upload.get("fileExtensions", DEFAULT_EXTENSIONS)
    if isinstance(extensions, str):  # Parse also takes one pattern
        extensions = [extensions]
    return FileOptions(
        anonymous=bool(upload.get("enableForAnonymousUser", False)),
        authenticated=bool(upload.get("enableForAuthenticatedUser", True)),
        public=bool(upload.get("enableForPublic", False)),
        extensions=list(extensions),
        max_size=parse_size(config.maxUploadSize),
        preserve_name=bool(config.preserveFileName),
        directory=files_directory(config),
        retention_days=float(config.fileRetentionDays),
    )


def files_directory(config: Config) -> str:
    """Where the local adapter keeps bytes: `filesAdapter.directory` when given; else
    `<dataDir>/files` beside the embedded database, or `./files` with an external one."""
    given = config.filesAdapter.get("directory") if isinstance(config.filesAdapter, dict) else None
    if given:
        return os.path.abspath(given)
    if config.databaseURI is None:
        return os.path.abspath(os.path.join(config.dataDir, "files"))
    return os.path.abspath("files")
