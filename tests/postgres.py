"""A real PostgreSQL server on loopback for the integration tests: initdb, start, stop."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.processes import free_port

USER = "leadscore"
DATABASE = "leadscore"
# Debian installs the server binaries here, off PATH, one directory per major version.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
START_TIMEOUT = 60


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a PostgreSQL server (no binaries, or no user to run them as)."""


def postgres_bindir() -> Path:
    """The directory holding `initdb` and `pg_ctl`: pg_config's, PATH's, else Debian's newest."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        # libpq-dev's pg_config names the server's bindir even when no server is installed,
        # so every candidate is checked for the binaries below.
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir:
            candidates.append(Path(bindir))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    # Newest major version first: 9.6 < 15 by number, not by name.
    debian = [Path(path) for path in glob.glob(DEBIAN_BINDIRS)]
    candidates += sorted(debian, key=lambda path: _version(path.parent.name), reverse=True)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return bindir
    looked = ", ".join(str(path) for path in candidates) or "nowhere"
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in pg_config --bindir, beside an "
        f"initdb on PATH, or in {DEBIAN_BINDIRS} (looked in: {looked}); "
        "install them, e.g. `apt-get install postgresql`"
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _run_as() -> list[str]:
    """The prefix that runs a command as a user PostgreSQL accepts: it refuses to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses root, but there is no `postgres` user "
            "to run it as (the Debian postgresql package creates one)"
        ) from None
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """A running cluster: its SQLAlchemy `url` (psycopg driver), files, and how to stop it."""

    url: str
    data: Path
    log: Path
    bindir: Path
    run_as: list[str] = field(repr=False)

    def stop(self) -> None:
        """Stop the server (fast: open sessions are cut); a stopped server is left as is."""
        if not (self.data / "postmaster.pid").exists():
            return
        _run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data),
                "--mode",
                "fast",
            ],
            "pg_ctl stop",
            self.log,
        )

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _run(command: list[str], what: str, log: Path) -> None:
    """Run `command`; on failure raise with its output and the server log's tail."""
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=log.parent, check=False, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed with exit code {result.returncode}: {' '.join(command)}\n"
            f"{result.stdout}{result.stderr}\n--- server log ({log}), last lines ---\n"
            f"{_log_tail(log)}"
        )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def start_postgres(directory: Path) -> PostgresServer:
    """initdb a cluster in `directory`/data and start it on 127.0.0.1, on a free port, with a
    `leadscore` database owned by the `leadscore` superuser, trusted without a password.

    As root, the server runs as the `postgres` user, which must be able to reach `directory`
    (a directory under pytest's private, root-only tmp tree will not do)."""
    bindir = postgres_bindir()
    run_as = _run_as()
    directory.mkdir(parents=True, exist_ok=True)
    data, log = directory / "data", directory / "server.log"
    if run_as:
        # initdb creates the data directory, and pg_ctl opens the log, as postgres.
        shutil.chown(directory, "postgres", "postgres")
        reachable = subprocess.run([*run_as, "test", "-w", str(directory)], check=False)
        if reachable.returncode != 0:
            raise RuntimeError(
                f"the postgres user cannot write to {directory}: a parent directory is closed "
                "to it; start the server in a directory that user can reach (e.g. under /tmp)"
            )
    _run(
        [
            *run_as,
            str(bindir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            USER,
            "--encoding",
            "UTF8",
            # The C locale exists everywhere; the environment's locale may not be installed.
            "--no-locale",
            # Trust suffices: the server listens on loopback only, and pg_hba's host lines
            # are 127.0.0.1/32 and ::1/128.
            "--auth",
            "trust",
            # A throwaway cluster: nothing is worth an fsync.
            "--no-sync",
        ],
        "initdb",
        log,
    )
    port = free_port()
    settings = {
        "listen_addresses": _quote("127.0.0.1"),
        "port": str(port),
        # Debian's default socket directory /var/run/postgresql may be absent or another
        # cluster's; the data directory is ours alone.
        "unix_socket_directories": _quote(str(data)),
        # Durability is pointless for a cluster deleted after the tests; this makes them fast.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    server = PostgresServer(
        url=f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}",
        data=data,
        log=log,
        bindir=bindir,
        run_as=run_as,
    )
    try:
        _run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(data),
                "--log",
                str(log),
                # Return once the server accepts connections.
                "--wait",
                "--timeout",
                str(START_TIMEOUT),
            ],
            "pg_ctl start",
            log,
        )
        # Over TCP, as the tests will connect, so that a server not listening there fails here.
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=USER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
    except psycopg.Error as error:
        server.stop()
        raise RuntimeError(
            f"PostgreSQL started but creating database {DATABASE} over 127.0.0.1:{port} "
            f"failed: {error}\n--- server log ({log}), last lines ---\n{_log_tail(log)}"
        ) from error
    except BaseException:
        # pg_ctl gives up waiting, not the server: stop one that is still starting.
        server.stop()
        raise
    return server
