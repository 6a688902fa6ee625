"""A private MariaDB server for tests that stop, restart or break the database.

The machine's MariaDB (127.0.0.1:3306) is shared by every test run: a test must never stop it. A test
that needs an outage starts its own ``mariadbd`` here instead:

- its own data directory, initialised with ``mariadb-install-db`` (root without a password, the
  way the shared test server is set up);
- its own socket and a free TCP port on 127.0.0.1;
- started from a COPY of the ``mariadbd`` binary placed in the temporary directory, so nothing that
  finds "the" MariaDB by its binary's path (``start-stop-daemon --exec /usr/sbin/mariadbd``,
  ``pidof mariadbd`` scripts, the distribution's init script) can ever match it;
- ``stop()`` ends only that process (SIGTERM to the pid this module started, a clean shutdown),
  ``start()`` starts it again on the same data directory and port, ``close()`` stops it and
  removes everything.

Usage::

    with PrivateMariaDB.started() as server:
        url = server.create_database()   # mysql+pymysql://root@127.0.0.1:<port>/test_<random>
        server.stop(); ...; server.start()

or the ``private_mariadb`` fixture (``tests/conftest.py``; one server per session, i.e. per xdist
worker, started when a test first asks for it: each test module creates its own database on it, and a
test that stops, freezes or restarts it leaves it running again). Where ``mariadbd`` or
``mariadb-install-db`` is missing the fixture skips, unless ``REQUIRE_MYSQL=1``, where it fails.

The server has no TLS: its URLs say ``ssl_disabled=true`` (PyMySQL's default would build a TLS
context, loading the CA bundle, for every connection only to find none offered).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")
SERVER_PATHS = ("/usr/sbin/mariadbd", "/usr/libexec/mariadbd", "/usr/bin/mariadbd")

# Small enough to start in about a second and take ~30 MB of disk.
_SERVER_OPTIONS = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--skip-name-resolve",
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--max-connections=200",
)


class PrivateMariaDBUnavailable(RuntimeError):
    """``mariadbd`` / ``mariadb-install-db`` are not installed, or the server did not start."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find_server() -> str | None:
    found = shutil.which("mariadbd")
    if found:
        return found
    return next((p for p in SERVER_PATHS if os.access(p, os.X_OK)), None)


def _find_install_db() -> str | None:
    return next((p for p in (shutil.which(n) for n in INSTALL_DB_NAMES) if p), None)


class PrivateMariaDB:
    """One private ``mariadbd``: own datadir, socket, port and binary copy. Not shared."""

    def __init__(self, root: Path, server_binary: str, install_db: str) -> None:
        self.root = root
        self.datadir = root / "data"
        self.socket = root / "mysqld.sock"
        self.binary = root / "bin" / "mariadbd-private"
        self.log_path = root / "mariadbd.log"
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.binary.parent.mkdir()
        shutil.copy2(server_binary, self.binary)
        self._install(install_db)

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[PrivateMariaDB]:
        """Initialise, start, yield; always stop and remove at the end."""
        server_binary, install_db = _find_server(), _find_install_db()
        if not server_binary or not install_db:
            raise PrivateMariaDBUnavailable(
                "mariadbd and mariadb-install-db are needed for a private MariaDB server"
            )
        root = Path(tempfile.mkdtemp(prefix="pmdb-"))  # short: a socket path has a 108-byte limit
        server: PrivateMariaDB | None = None
        try:
            server = cls(root, server_binary, install_db)
            server.start()
            yield server
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(root, ignore_errors=True)

    def _install(self, install_db: str) -> None:
        self.datadir.mkdir()
        command = [
            install_db,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            "--innodb-log-file-size=8M",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PrivateMariaDBUnavailable(
                f"mariadb-install-db failed ({result.returncode}): {result.stderr[-2000:]}"
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on its data directory and port; return once it accepts connections."""
        if self.running:
            return
        command = [
            str(self.binary),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.root / 'mariadbd.pid'}",
            f"--log-error={self.log_path}",
            *_SERVER_OPTIONS,
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self._process.poll() is not None:
                raise PrivateMariaDBUnavailable(f"private mariadbd exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise PrivateMariaDBUnavailable(
                    f"private mariadbd not ready:\n{self.log()[-3000:]}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> None:
        """Shut this server down cleanly (SIGTERM to its own pid) and wait until it has exited."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- use ---------------------------------------------------------------------------------

    @property
    def server_url(self) -> str:
        """SQLAlchemy URL of the server (no database)."""
        return self.url("")

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?ssl_disabled=true"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.settimeout(1)
                greeting = conn.recv(64)
        except OSError:
            return False
        # The server's handshake starts with a 4-byte header then protocol version 10.
        return len(greeting) > 4 and greeting[4] == 10

    def create_database(self, name: str | None = None) -> str:
        """Create a database (``test_<random>`` by default); returns its URL."""
        name = name or f"test_{secrets.token_hex(6)}"
        engine = sa.create_engine(self.server_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        finally:
            engine.dispose()
        return self.url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def private_mariadb_or_skip() -> Iterator[PrivateMariaDB]:
    """``PrivateMariaDB.started()``, skipped when MariaDB is not installed (failed under
    ``REQUIRE_MYSQL=1``)."""
    try:
        context = PrivateMariaDB.started()
        server = context.__enter__()
    except PrivateMariaDBUnavailable as exc:
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(f"REQUIRE_MYSQL=1 but no private MariaDB: {exc}")
        pytest.skip(f"no private MariaDB server: {exc}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)
