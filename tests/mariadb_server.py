"""A throw-away MariaDB server for tests: its own data folder, socket and TCP port on 127.0.0.1.

Started and stopped by the test that uses it (Debian's mariadb-server; `make test` installs it).
It holds a user `mlmd` with a password, reached over TCP, as a Kubeflow Pipelines store would be.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from inspection.store import MySqlStore

USER, PASSWORD = "mlmd", "mlmd-test-password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise RuntimeError(f"{name} not found: install Debian's mariadb-server (`make test` does, as root)")
    return path


@contextlib.contextmanager
def mariadb_server(base: Path, database: str = "metadb"):
    """Yields a `MySqlStore` for a fresh server; stops it and removes nothing else on exit."""
    data, sock, log = base / "data", base / "mysqld.sock", base / "mysqld.log"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    # --no-defaults: the system's /etc/mysql settings (plugins, paths) are not this server's.
    install = subprocess.run(
        [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            *as_root,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if install.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed: {(install.stdout + install.stderr)[-2000:]}")
    port = _free_port()
    server = subprocess.Popen(
        [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--log-error={log}",
            f"--pid-file={base / 'mysqld.pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            *as_root,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = [_binary("mariadb"), f"--socket={sock}", "-u", "root"]
        deadline = time.monotonic() + 60
        while subprocess.run([*client, "-e", "SELECT 1"], capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MariaDB did not start: {log.read_text()[-2000:] if log.exists() else ''}")
            time.sleep(0.3)
        grant = (
            f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
            f" GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1';"
        )
        subprocess.run([*client, "-e", grant], check=True, capture_output=True)
        yield MySqlStore(host="127.0.0.1", port=port, database=database, user=USER, password=PASSWORD)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
