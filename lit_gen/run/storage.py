"""Where a study lives, and keeping its password out of sight.

- default: a journal file in the sweep directory (`optuna.journal`), no server; safe for parallel workers on one
  machine and, with its open-file lock, on a shared filesystem;
- `postgresql://user@host:port/db`: many nodes; the password comes from `PGPASSWORD` or `~/.pgpass` (libpq reads
  both), or from the whole URL in the environment variable `LIT_GEN_STORAGE`;
- `sqlite:///path.db`: accepted, with a warning when several workers write to it at once;
- a path ending in `.journal` / `.log`, or `journal:///path`: a journal file there.

A URL with a password is never printed (`masked`), written to a file, or put on a command line: it reaches trial
processes through their environment only. A password in a sweep file or in `--storage` is refused.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lit_gen.errors import LitGenError
from lit_gen.run.identity import STORAGE_ENV


def has_password(url: str) -> bool:
    return "://" in url and urlsplit(url).password is not None


def masked(url: str) -> str:
    """The URL with its password replaced by `***`, for output."""
    if not has_password(url):
        return url
    parts = urlsplit(url)
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def refuse_password(url: str, where: str) -> None:
    if has_password(url):
        raise LitGenError(
            f"{where}: the storage URL holds a password, which would be visible in files or to every user through "
            f"the process list; remove it and give it through PGPASSWORD or ~/.pgpass, or put the whole URL in the "
            f"environment variable {STORAGE_ENV}"
        )


def resolve_storage_url(spec_storage: str | None, cli_storage: str | None, sweep_dir: Path) -> str:
    """The study's storage URL: `--storage`, else `$LIT_GEN_STORAGE`, else the sweep file's, else a journal file."""
    if cli_storage:
        refuse_password(cli_storage, "--storage")
        return _absolute(cli_storage)
    if os.environ.get(STORAGE_ENV):
        return _absolute(os.environ[STORAGE_ENV])
    if spec_storage:
        return _absolute(spec_storage)
    return f"journal:///{(sweep_dir / 'optuna.journal').resolve().as_posix().lstrip('/')}"


def _absolute(url: str) -> str:
    """Journal and SQLite paths made absolute, so trial processes started elsewhere find the same file."""
    if url.startswith("sqlite:///"):
        return "sqlite:///" + str(Path(url[len("sqlite:///"):]).resolve())
    if url.startswith("journal://"):
        return "journal:///" + str(Path(url[len("journal://"):]).resolve()).lstrip("/")
    if "://" not in url:
        return "journal:///" + str(Path(url).resolve()).lstrip("/")
    return url


def open_storage(url: str, workers: int = 1, rdb_options: dict[str, Any] | None = None):
    """An Optuna storage for the URL (see the module docstring). `rdb_options` go to an `RDBStorage` only: a sweep's
    workers pass Optuna's heartbeat and retry settings (`lit_gen.sweep.faults.rdb_heartbeat`); trial processes
    open the storage without them."""
    import optuna

    if url.startswith("journal://"):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        path = Path("/" + url[len("journal://"):].lstrip("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # the open-file lock works on NFS too, where symlink locks are unreliable
        return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    if url.startswith("sqlite:") and workers > 1:
        warnings.warn("SQLite is not made for parallel writers: with several workers use the default journal file "
                      "or PostgreSQL", stacklevel=2)
    engine_url = url
    if url.startswith(("postgresql://", "postgres://")):
        # name the driver lit_gen installs (`.[postgres]`): SQLAlchemy's default for a bare postgresql:// URL
        # changed between versions (psycopg2 in 2.0, psycopg 3 in 2.1)
        engine_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    heartbeat = rdb_options or {}
    try:
        return optuna.storages.RDBStorage(engine_url, engine_kwargs={"pool_pre_ping": True}, **heartbeat)
    except Exception as error:  # SQLAlchemy/driver errors: name the storage, never its password
        message = str(error).splitlines()[0][:300].replace(urlsplit(url).password or "\0", "***")
        raise LitGenError(f"cannot open the study storage {masked(url)}: {message}") from None
