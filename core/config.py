"""Server options, with Parse Server's names, from a JSON file, PARSE_SERVER_* variables and flags.

Precedence, lowest first: defaults, the JSON config file, the environment, command-line flags.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping


@dataclass
class Config:
    appId: str = "parsnip"
    masterKey: str | None = None
    readOnlyMasterKey: str | None = None
    restAPIKey: str | None = None
    javascriptKey: str | None = None
    clientKey: str | None = None
    dotNetKey: str | None = None
    databaseURI: str | None = None  # None: the embedded PostgreSQL
    dataDir: str = ".parsnip-data"  # where the embedded PostgreSQL keeps its files
    host: str = "0.0.0.0"
    port: int = 1337
    mountPath: str = "/parse"
    serverURL: str | None = None
    publicServerURL: str | None = None
    allowClientClassCreation: bool = True
    allowCustomObjectId: bool = False
    maxLimit: int | None = None
    maxUploadSize: str = "20mb"
    # Files (Parse's names): who may upload and which extensions ({enableForAnonymousUser,
    # enableForAuthenticatedUser, enableForPublic, fileExtensions}; None: Parse's defaults), names
    # kept as sent, the key of legacy hosted files; the local adapter's {"directory"}
    # (core/files/options.py), and how many days a deleted file's bytes stay (Parsnip's; 0: none).
    fileUpload: dict | None = None
    preserveFileName: bool = False
    fileKey: str | None = None
    filesAdapter: dict | str | None = None  # {"directory"} (local disk), or S3: core/files/s3.py
    fileRetentionDays: float = 30.0
    allowOrigin: str = "*"
    allowHeaders: list[str] = field(default_factory=list)
    logLevel: str = "info"  # Parse's names: error, warn, info, verbose, debug, silly
    # Logs (Parse Server's names): daily JSON files in logsFolder (None or "" for none), JSON
    # lines on stdout (JSON_LOGS), debug level (VERBOSE), no console output (SILENT), how many
    # files or days ("14d") to keep (maxLogFiles: None keeps them all).
    logsFolder: str | None = "./logs"
    jsonLogs: bool = False
    verbose: bool = False
    silent: bool = False
    maxLogFiles: str | None = None
    # Who may read /metrics without the master key (addresses or networks; Parsnip's option).
    metricsIps: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    databasePoolSize: int = 10
    cluster: int = 1  # server processes sharing the port (Parse's option of the same name)
    # Users and sessions (Parse Server's names and defaults).
    masterKeyIps: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    enforcePrivateUsers: bool = True
    sessionLength: int = 31536000  # seconds
    expireInactiveSessions: bool = True
    extendSessionOnUse: bool = False
    revokeSessionOnPasswordReset: bool = True
    enableAnonymousUsers: bool = True
    verifyUserEmails: bool = False
    preventLoginWithUnverifiedEmail: bool = False
    emailVerifyTokenValidityDuration: int | None = None  # seconds
    emailVerifyTokenReuseIfValid: bool = False
    accountLockout: dict | None = None  # {"duration": minutes, "threshold": n, "unlockOnPasswordReset": bool}
    passwordPolicy: dict | None = None  # validatorPattern, doNotAllowUsername, maxPasswordAge, ...
    appName: str = "Parsnip"
    customPages: dict = field(default_factory=dict)
    emailAdapter: dict | None = None
    auth: dict | None = None  # authData providers: {"<provider>": {...options}}
    # LiveQuery (Parse's names): which classes publish events, {"classNames": [...], "redisURL": ...};
    # whether this process serves the websocket (on the REST port); its options (keyPairs,
    # websocketTimeout in ms, and Parsnip's maxQueue: messages a slow client may have pending).
    liveQuery: dict | None = None
    startLiveQueryServer: bool = False
    liveQueryServerOptions: dict | None = None
    # Cloud Code: a Python file (main.py) or dotted module whose attribute `cloud` is a
    # `parsnip.cloud.Cloud` (core/cloud/loader.py).
    cloud: str | None = None
    # Development (Parsnip's option): reload the cloud module when its files change.
    dev: bool = False
    # Sent as X-Parse-Webhook-Key with every webhook call (`/hooks`), as Parse Server does.
    webhookKey: str | None = None
    # Seconds between the job scheduler's looks at _JobSchedule (core/cloud/scheduler.py); 0:
    # no scheduler on this node (Parsnip's option: Parse Server never runs _JobSchedule).
    jobSchedulerInterval: float = 5.0
    # Ed25519 key that signs GET /history/head (core/head_signing.py): a PEM file's path, or
    # base64 of the 32 raw bytes (Parsnip's option).
    historySigningKey: str | None = None

    def __post_init__(self) -> None:
        if not self.mountPath.startswith("/"):
            self.mountPath = "/" + self.mountPath
        self.mountPath = self.mountPath.rstrip("/") or "/parse"
        if self.serverURL is None:
            host = "localhost" if self.host in ("0.0.0.0", "::") else self.host
            self.serverURL = f"http://{host}:{self.port}{self.mountPath}"

    @property
    def max_body_bytes(self) -> int:
        return parse_size(self.maxUploadSize)


# Parse Server's own names for a few variables; the rest are PARSE_SERVER_<UPPER_SNAKE>.
_ENV_ALIASES = {
    "appId": ["PARSE_SERVER_APPLICATION_ID"],
    "port": ["PORT"],
    "serverURL": ["PARSE_SERVER_URL"],
    "publicServerURL": ["PARSE_PUBLIC_SERVER_URL"],
    "jsonLogs": ["JSON_LOGS"],
    "verbose": ["VERBOSE"],
    "silent": ["SILENT"],
}


# Options where an empty string or "null" means None (Parse's nullParser).
_NULLABLE = {"logsFolder", "maxLogFiles"}


def env_name(option: str) -> str:
    return "PARSE_SERVER_" + re.sub(r"(?<!^)(?=[A-Z])", "_", option).upper().replace("U_R_I", "URI").replace("U_R_L", "URL").replace("A_P_I", "API")


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Config)}[name]
    if isinstance(value, str):
        if name in _NULLABLE and value.strip().lower() in ("", "null"):
            return None  # Parse's nullParser: e.g. PARSE_SERVER_LOGS_FOLDER=null disables files
        if "bool" in kind:
            return value.strip().lower() in ("1", "true", "yes", "on")
        if kind.startswith("int"):
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("list"):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        if kind.startswith("dict | str"):  # JSON, or a name as Parse's env form gives it
            return json.loads(value) if value.strip().startswith("{") else value.strip()
        if kind.startswith("dict"):
            return json.loads(value)
        if kind.startswith("int |") and value.strip().lower() in ("", "none", "null"):
            return None
        if kind.startswith("int |"):
            return int(value)
    return value


def load(file_path: str | None = None, env: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Build a Config from a JSON file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    names = {f.name for f in fields(Config)}
    values: dict[str, Any] = {}
    if file_path:
        with open(file_path) as fh:
            data = json.load(fh)
        if "apps" in data and isinstance(data["apps"], list) and data["apps"]:
            data = data["apps"][0]  # Parse's multi-app file form: the first app
        values.update({k: v for k, v in data.items() if k in names})
    for name in names:
        for var in [env_name(name), *_ENV_ALIASES.get(name, [])]:
            if var in env:
                values[name] = _coerce(name, env[var])
                break
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = _coerce(k, v)
    return Config(**values)


def parse_size(text: str) -> int:
    """'20mb' -> bytes, as Parse's maxUploadSize is written."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*", str(text).lower())
    if not m:
        raise ValueError(f"invalid size: {text}")
    scale = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[m.group(2) or "b"]
    return int(float(m.group(1)) * scale)
