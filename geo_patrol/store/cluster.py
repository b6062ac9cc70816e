"""The embedded PostGIS cluster: initdb/pg_ctl in a data directory, on a free local port.

PostgreSQL refuses to run as root, so when started by root the server runs as an unprivileged
system user (created if missing) that owns the data directory. Connection facts (port, role,
password) live in ``cluster.json`` beside the data, readable only by its owner.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from geo_patrol.errors import DatabaseError, MissingDependencyError

log = logging.getLogger(__name__)

_SERVER_ROOT = Path("/usr/lib/postgresql")
SERVER_PACKAGE_HINT = "apt-get install postgresql postgresql-postgis (e.g. postgresql-15-postgis-3)"
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "100",
    "shared_buffers": "'256MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    # Minimal WAL lets COPY into a table created or truncated in the same transaction skip WAL.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "timezone": "'UTC'",
}


@dataclass
class ClusterState:
    port: int
    role: str
    password: str
    dbname: str


def find_server_bindir() -> Path:
    """The directory of the newest installed PostgreSQL server binaries."""
    candidates = sorted(
        _SERVER_ROOT.glob("*/bin/postgres"),
        key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0),
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres") or shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    msg = f"PostgreSQL server programs (initdb, pg_ctl) are not installed: {SERVER_PACKAGE_HINT}"
    raise MissingDependencyError(msg)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it has exited, only its entry is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _port_free(port: int) -> bool:
    """Whether nobody listens on ``port``. Connections the stopped server left in TIME_WAIT
    do not count (PostgreSQL binds with SO_REUSEADDR too), so a restart keeps its port and
    running apps keep their URL."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalCluster:
    """A PostgreSQL + PostGIS cluster owned by this project.

    Parameters
    ----------
    root
        Directory holding the cluster (``data/``), its log and ``cluster.json``.
    run_as
        System user that runs the server when the caller is root.
    dbname
        Database created with PostGIS enabled.
    extra_settings
        Further ``postgresql.conf`` settings, e.g. ``{"fsync": "off"}`` for throwaway clusters.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        run_as: str = "geopatrol",
        dbname: str = "geo_patrol",
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.pgdata = self.root / "data"
        self.logfile = self.root / "server.log"
        self.state_file = self.root / "cluster.json"
        self.run_as = run_as
        self.dbname = dbname
        self.extra_settings = extra_settings or {}

    # -- process helpers -------------------------------------------------------------------

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _server_user(self) -> pwd.struct_passwd:
        if not self._as_root:
            return pwd.getpwuid(os.geteuid())
        try:
            return pwd.getpwnam(self.run_as)
        except KeyError:
            pass
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        cmd = [useradd, "--system", "--user-group", "--no-create-home",
               "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", self.run_as]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 and "already exists" not in done.stderr:
            msg = f"could not create the system user {self.run_as!r}: {done.stderr.strip()}"
            raise DatabaseError(msg)
        return pwd.getpwnam(self.run_as)

    def _run(self, args: list[str], *, check: bool = True, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
        user = self._server_user()
        kwargs: dict[str, object] = {}
        if self._as_root:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
               "HOME": str(self.root), **(env or {})}
        done = subprocess.run(args, capture_output=True, text=True, cwd=self.root, env=env,
                              check=False, **kwargs)  # type: ignore[arg-type]
        if check and done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            msg = f"{Path(args[0]).name} failed: {' '.join(tail)}"
            raise DatabaseError(msg)
        return done

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        # The server user must be able to walk down to its data directory.
        for parent in reversed(self.root.parents):
            st = parent.stat()
            if st.st_uid == user.pw_uid:
                continue
            if not st.st_mode & 0o001:
                msg = (f"{parent} is not accessible to the database user {user.pw_name!r}; "
                       "set GEO_PATROL_DATA_DIR to a directory outside it")
                raise DatabaseError(msg)

    # -- state -----------------------------------------------------------------------------

    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.state_file.exists()

    def state(self) -> ClusterState:
        if not self.state_file.exists():
            msg = f"no local database at {self.root}: run `geo-patrol db up`"
            raise DatabaseError(msg)
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _save_state(self, state: ClusterState) -> None:
        self.state_file.write_text(json.dumps(asdict(state)))
        self.state_file.chmod(0o600)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _clear_stale_lock(self) -> None:
        """After a crash the lock file may name a dead postmaster (or a zombie nobody has
        reaped, which PostgreSQL would still take for a running server): remove it."""
        pid = self._postmaster_pid()
        if pid is not None and not _process_alive(pid):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            log.warning("removed the stale lock of crashed postmaster %d", pid)

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        self._clear_stale_lock()
        done = self._run([str(find_server_bindir() / "pg_ctl"), "status", "-D", str(self.pgdata)],
                         check=False)
        return done.returncode == 0

    def running_port(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except OSError:
            return None
        return int(lines[3]) if len(lines) > 3 else None

    # -- lifecycle -------------------------------------------------------------------------

    def _prepare_root(self) -> pwd.struct_passwd:
        """The cluster's directory, private to the server user (returned)."""
        user = self._server_user()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        if self._as_root:
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._check_reachable(user)
        return user

    def init(self) -> None:
        """Create the cluster (``initdb``) with a random password for its superuser."""
        bindir = find_server_bindir()
        user = self._prepare_root()
        state = ClusterState(port=_free_port(), role="geo_patrol",
                             password=secrets.token_urlsafe(24), dbname=self.dbname)
        pwfile = self.root / ".pwfile"
        pwfile.write_text(state.password + "\n")
        pwfile.chmod(0o600)
        if self._as_root:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run([str(bindir / "initdb"), "-D", str(self.pgdata), "-U", state.role,
                       "--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8",
                       "--locale", "C.UTF-8"])
        finally:
            pwfile.unlink(missing_ok=True)
        conf = {**_SETTINGS, **self.extra_settings}
        with (self.pgdata / "postgresql.conf").open("a") as fh:
            fh.write("\n# geo-patrol\n")
            fh.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self._save_state(state)
        log.info("initialised PostgreSQL cluster in %s", self.pgdata)

    def init_standby(self, primary: LocalCluster) -> None:
        """Create this cluster as a streaming standby of the running ``primary`` (a base
        backup): read-only, replaying the primary's changes as they commit. The primary needs
        ``wal_level = replica`` and WAL senders (``extra_settings``)."""
        self._prepare_root()
        source = primary.state()
        port = primary.running_port()
        if port is None:
            raise DatabaseError("the primary is not running: start it before its standby")
        self._run([str(find_server_bindir() / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                   str(port), "-U", source.role, "-D", str(self.pgdata), "-X", "stream",
                   "-c", "fast", "-w", "-R"], env={"PGPASSWORD": source.password})
        conninfo = (f"host=127.0.0.1 port={port} user={source.role} "
                    f"password={source.password} application_name=standby")
        with (self.pgdata / "postgresql.auto.conf").open("a") as fh:
            fh.write(f"primary_conninfo = '{conninfo}'\nhot_standby = on\n")
        self._save_state(ClusterState(port=_free_port(), role=source.role,
                                      password=source.password, dbname=source.dbname))
        log.info("initialised a standby of %s in %s", primary.pgdata, self.pgdata)

    @property
    def is_standby(self) -> bool:
        return (self.pgdata / "standby.signal").exists()

    def start(self) -> None:
        """Start the server (initialising it first if needed); a no-op when running."""
        if not self.is_initialized():
            self.init()
        if self.is_running():
            return
        state = self.state()
        if not _port_free(state.port):
            state.port = _free_port()
            self._save_state(state)
        self._run([str(find_server_bindir() / "pg_ctl"), "start", "-D", str(self.pgdata),
                   "-l", str(self.logfile), "-w", "-t", "60", "-o", f"-p {state.port}"])
        log.info("PostgreSQL running on 127.0.0.1:%d", state.port)
        if not self.is_standby:  # a standby holds the primary's databases, read-only
            self.ensure_database()

    def stop(self) -> bool:
        """Stop the server cleanly; returns whether it was running."""
        if not self.is_running():
            return False
        self._run([str(find_server_bindir() / "pg_ctl"), "stop", "-D", str(self.pgdata),
                   "-m", "fast", "-w", "-t", "60"])
        return True

    def kill(self) -> None:
        """Kill the server at once (SIGKILL to the postmaster), as a crash would, and wait
        until it is gone."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        os.kill(pid, 9)
        for _ in range(200):
            if not _process_alive(pid):
                break
            time.sleep(0.05)

    def destroy(self) -> None:
        """Stop the server and delete the cluster directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- connections -----------------------------------------------------------------------

    def url(self, dbname: str | None = None, *, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of a database in this cluster."""
        state = self.state()
        port = self.running_port() or state.port
        return (f"{driver}://{state.role}:{state.password}@127.0.0.1:{port}/"
                f"{dbname or state.dbname}")

    def connect_admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True)

    def ensure_database(self, dbname: str | None = None, *, template: str | None = None) -> None:
        """Create a database with PostGIS unless it exists."""
        name = dbname or self.state().dbname
        with self.connect_admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if not exists:
                query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if template:
                    query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template))
                conn.execute(query)
        if template:
            return
        with psycopg.connect(self.url(name, driver="postgresql"), autocommit=True) as conn:
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
            if not available:
                major = conn.info.server_version // 10000
                msg = (f"PostGIS is not installed for PostgreSQL {major}: "
                       f"apt-get install postgresql-{major}-postgis-3")
                raise MissingDependencyError(msg)
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    def drop_database(self, dbname: str) -> None:
        with self.connect_admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))
