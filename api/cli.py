"""The `parsnip` command: serve (the default) and `parsnip rebuild`.

    parsnip [config.json] [--appId ID] [--masterKey KEY] [--databaseURI URI] [--port N] ...
    parsnip rebuild [config.json] [--databaseURI URI]   drop the projections, replay the log
    parsnip verify [config.json] [--databaseURI URI]    check the log's hash chain (exit 1 on a break)
    parsnip erase --class C --object ID [--by NAME] [--reason TEXT] [--databaseURI URI]
                                                        erase an object's data from the log
    parsnip history CLASS OBJECT_ID [--limit N] [--after POSITION] [--databaseURI URI]   an object's versions

Options keep Parse Server's names; each is also read from PARSE_SERVER_<NAME> in the
environment and from the JSON file. Without a databaseURI, an embedded PostgreSQL keeps its
data in --dataDir.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import logging
import os
import secrets
import shutil
import sys
import tempfile

import trio

from parsnip.api import banner, logsetup
from parsnip.core import config as config_mod
from parsnip.core.config import Config

_HELP = {
    "appId": "your Parse application id",
    "masterKey": "the master key (generated and kept in dataDir when not given)",
    "readOnlyMasterKey": "a master key that can read everything and write nothing",
    "restAPIKey": "REST API key; when any client key is set, requests must carry one",
    "javascriptKey": "JavaScript key", "clientKey": "iOS/macOS client key", "dotNetKey": ".NET key",
    "databaseURI": "PostgreSQL URI (postgres://user@host:port/db); default: embedded PostgreSQL",
    "dataDir": "folder of the embedded PostgreSQL's data",
    "host": "address to listen on", "port": "port to listen on", "mountPath": "where the API is mounted",
    "serverURL": "the URL clients reach this server at", "publicServerURL": "public URL for links",
    "allowClientClassCreation": "let clients without the master key create classes",
    "allowCustomObjectId": "let clients choose objectIds on create",
    "maxLimit": "the largest limit a query may ask for", "maxUploadSize": "largest request body, e.g. 20mb",
    "allowOrigin": "Access-Control-Allow-Origin", "allowHeaders": "extra CORS allowed headers (comma list)",
    "logLevel": "error, warn, info, verbose or debug", "databasePoolSize": "PostgreSQL connections per process",
    "logsFolder": "folder of the daily JSON log files (default ./logs; null or empty: no files)",
    "jsonLogs": "log JSON lines on stdout (also JSON_LOGS)", "verbose": "log at debug level (also VERBOSE)",
    "silent": "no console output (also SILENT)", "maxLogFiles": "log files to keep: a number, or days as 14d",
    "metricsIps": "addresses or networks that may read /metrics without the master key (comma list)",
    "cluster": "number of server processes (one Python process uses one core)",
    "liveQuery": 'LiveQuery: JSON, e.g. {"classNames": ["Message"]} (names are regular expressions)',
    "startLiveQueryServer": "serve LiveQuery websockets on this server's port",
    "liveQueryServerOptions": 'JSON: {"keyPairs": {...}, "websocketTimeout": ms, "maxQueue": n}',
    "cloud": "Cloud Code: a Python file (main.py) or module whose `cloud` is a parsnip.cloud.Cloud",
    "dev": "development: reload the cloud module when a Python file in its folder changes",
    "webhookKey": "Key sent as X-Parse-Webhook-Key with every webhook call (/hooks)",
    "jobSchedulerInterval": "seconds between the job scheduler's looks at _JobSchedule (0: no scheduler here)",
    "historySigningKey": "Ed25519 key signing GET /history/head: a PEM file, or base64 of the 32 raw bytes",
}


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Parsnip: a Parse-compatible server on an append-only event log in PostgreSQL.",
        epilog="Every option can also be set as PARSE_SERVER_<NAME> (e.g. PARSE_SERVER_MASTER_KEY) "
        "or in the JSON config file. Subcommands: `parsnip rebuild` replays the log into fresh projections; "
        "`parsnip verify` checks the log's hash chain; `parsnip erase` erases an object's data from the log.",
    )
    p.add_argument("config", nargs="?", help="a JSON config file with Parse Server option names")
    for f in dataclasses.fields(Config):
        # A boolean given alone (`--startLiveQueryServer`) means true, as in Parse's CLI.
        flag = {"nargs": "?", "const": "true"} if f.type == "bool" else {}
        p.add_argument(f"--{f.name}", dest=f.name, default=None, help=_HELP.get(f.name, f.name),
                       metavar=config_mod.env_name(f.name), **flag)
    return p


def _master_key(cfg: Config) -> str:
    """A master key kept beside the embedded database, so restarts keep the same one."""
    path = os.path.join(cfg.dataDir, "master-key")
    if os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip()
    os.makedirs(cfg.dataDir, exist_ok=True)
    key = secrets.token_urlsafe(24)
    with open(path, "w") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key


def load_config(argv: list[str], prog: str = "parsnip") -> Config:
    return load_config_and(argv, prog)[0]


def load_config_and(argv: list[str], prog: str, extra: dict[str, dict] | None = None) -> tuple[Config, dict]:
    """The config, and the values of a subcommand's own `extra` options ({flag: argparse kwargs})."""
    parser = _parser(prog)
    for flag, kwargs in (extra or {}).items():
        parser.add_argument(flag, **kwargs)
    args = vars(parser.parse_args(argv))
    own = {kwargs["dest"]: args.pop(kwargs["dest"]) for kwargs in (extra or {}).values()}
    file_path = args.pop("config")
    cfg = config_mod.load(file_path, overrides=args)
    if not cfg.masterKey:
        cfg.masterKey = _master_key(cfg)
    return cfg, own


_ERASE_OPTIONS = {
    "--class": {"dest": "class_name", "required": True, "help": "the object's class"},
    "--object": {"dest": "object_id", "required": True, "help": "the object's objectId"},
    "--by": {"dest": "by", "help": "who erases, for the tombstone (default: the OS user)"},
    "--reason": {"dest": "reason", "help": "why, for the tombstone"},
}


def _maintenance(argv: list[str]) -> None:
    """`parsnip rebuild | verify | erase ...`: one job on the database, then exit."""
    from parsnip.api import maintenance
    from parsnip.core.errors import ParseError

    command = argv[0]
    cfg, own = load_config_and(argv[1:], f"parsnip {command}", _ERASE_OPTIONS if command == "erase" else None)
    cfg.logsFolder = None  # a maintenance command: its output is for the terminal
    logsetup.configure(cfg)
    if command == "rebuild":
        trio.run(maintenance.rebuild, cfg)
    elif command == "verify":
        sys.exit(0 if trio.run(maintenance.verify, cfg) else 1)
    else:
        try:
            trio.run(maintenance.erase, cfg, own["class_name"], own["object_id"], own["by"], own["reason"])
        except ParseError as e:
            print(f"parsnip erase: {e.message} (code {e.code})", file=sys.stderr)
            sys.exit(1)


def _master_key_file(cfg: Config) -> str | None:
    """The file that keeps the master key, when the key is the generated one."""
    path = os.path.abspath(os.path.join(cfg.dataDir, "master-key"))
    try:
        with open(path) as fh:
            return path if fh.read().strip() == cfg.masterKey else None
    except OSError:
        return None


def _cluster_metrics_dir() -> None:
    """--cluster: the workers' metrics meet in one directory for this run (prometheus_client's
    multiprocess mode), so a scrape of any worker sees the node. Must run before
    prometheus_client is imported; the directory goes when this (the master) process ends."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):  # values of an earlier run would add to this one's
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        return
    path = tempfile.mkdtemp(prefix="parsnip-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, True)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["rebuild"], ["verify"], ["erase"]):
        _maintenance(argv)
        return
    if argv[:1] == ["history"]:
        _history(argv[1:])
        return
    cfg = load_config(argv)
    if cfg.cluster > 1:
        _cluster_metrics_dir()
    logsetup.configure(cfg)
    from parsnip.api.routes.server import VERSION
    from parsnip.api.server import serve, serve_cluster
    from parsnip.core.cloud.loader import CloudLoadError, load_cloud

    try:
        load_cloud(cfg.cloud, dev=cfg.dev)  # before serving (and before --cluster forks): a broken module stops here
    except CloudLoadError as err:
        logging.getLogger("parsnip").critical("%s; not starting", err, exc_info=err.__cause__)
        print(f"parsnip: {err}", file=sys.stderr)
        sys.exit(1)
    banner.announce(cfg, VERSION, _master_key_file(cfg))
    if cfg.cluster > 1:
        serve_cluster(cfg, cfg.cluster)
    else:
        trio.run(serve, cfg)


def _history(argv: list[str]) -> None:
    from parsnip.api import history_cli

    args, rest = history_cli.parse(argv)
    cfg = load_config(["--masterKey", "unused", *rest], "parsnip history")  # a read: no key to keep
    cfg.logsFolder = None
    logsetup.configure(cfg)
    sys.exit(trio.run(history_cli.show, cfg, args.className, args.objectId, args.limit, args.after))


if __name__ == "__main__":
    main()
