"""A real PostgreSQL server for tests: Debian's `postgresql` binaries, a throwaway cluster, loopback only.

PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user the Debian package creates. The
test role logs in with a password over TCP (scram-sha-256), as a shared cluster database would demand.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresServer:
    port: int
    user: str
    password: str
    database: str
    data_dir: Path

    def url(self, with_password: bool = False) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{self.database}"


def find_binaries() -> Path | None:
    """The folder of Debian's initdb / pg_ctl (newest version), or None."""
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for folder in reversed(folders):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_unavailable() -> str | None:
    if find_binaries() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` user to run the server as (Debian's postgresql package creates it)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(password: str) -> PostgresServer:
    binaries = find_binaries()
    owner = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="lit_gen_pg_"))
    os.chmod(root, 0o755)
    data_dir = root / "data"
    data_dir.mkdir()
    os.chown(data_dir, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, text=True,
                       cwd=root, timeout=120)

    as_postgres(str(binaries / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--no-sync")
    as_postgres(str(binaries / "pg_ctl"), "-D", str(data_dir), "-l", str(data_dir / "server.log"), "-w", "-t", "60",
                "-o", f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    server = PostgresServer(port=port, user="lit_gen", password=password, database="sweeps", data_dir=data_dir)
    psql = [str(binaries / "psql") if (binaries / "psql").exists() else "psql", "-h", str(data_dir), "-p", str(port),
            "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c"]
    as_postgres(*psql, f"CREATE ROLE {server.user} LOGIN PASSWORD '{password}'")
    as_postgres(*psql, f"CREATE DATABASE {server.database} OWNER {server.user}")
    return server


def stop(server: PostgresServer) -> None:
    binaries = find_binaries()
    subprocess.run(["runuser", "-u", "postgres", "--", str(binaries / "pg_ctl"), "-D", str(server.data_dir), "-m",
                    "immediate", "stop"], capture_output=True, timeout=60)
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)
