"""PostgreSQL from the system's server binaries, in a data directory under the state directory."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canary_stream.errors import ConfigError, StackError
from canary_stream.settings import Settings
from canary_stream.stack.common import Echo, last_log_line, logs_dir, port_open, quiet, run_dir
from canary_stream.stack.envfile import DbUrl
from canary_stream.stack.pidfile import PidFile, pid_alive

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

PG_HBA = """\
# Written by canary-stream on every 'stack up'; edits are overwritten.
# The socket directory is mode 0700, so only its owner (and root) reach 'local'.
local   all   {superuser}                    trust
host    all   all          127.0.0.1/32      scram-sha-256
"""


def _is_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account initdb/postgres run as when we are root."""

    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def run_as() -> RunAs | None:
    """``postgres`` system user when running as root (initdb/postgres refuse root), else None."""
    if not _is_root():
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise StackError(
            f"running as root needs the '{SYSTEM_USER}' system user to run PostgreSQL "
            "(apt-get install postgresql-15 creates it)"
        ) from None
    return RunAs(entry.pw_uid, entry.pw_gid)


def _pg_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def fallback_root(state_dir: Path) -> Path:
    """Data root used when the ``postgres`` user cannot reach the state directory."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"canary-stream-{digest}" / "postgres"


@dataclass(frozen=True)
class PgPaths:
    """Where the server keeps its files."""

    root: Path
    data: Path
    socket_dir: Path
    log: Path
    pidfile: PidFile
    info: Path
    relocated: bool

    @classmethod
    def at(cls, settings: Settings, root: Path) -> PgPaths:
        return cls(
            relocated=root != settings.state_dir / "postgres",
            root=root,
            data=root / "data",
            socket_dir=root / "run",
            log=logs_dir(settings.state_dir) / "postgres.log",
            pidfile=PidFile(run_dir(settings.state_dir) / "postgres.pid"),
            info=run_dir(settings.state_dir) / "postgres.json",
        )

    @classmethod
    def existing(cls, settings: Settings) -> PgPaths:
        """The paths in use, without creating anything (for status/stop)."""
        default = settings.state_dir / "postgres"
        fallback = fallback_root(settings.state_dir)
        if (
            not (default / "data" / "PG_VERSION").exists()
            and (fallback / "data" / "PG_VERSION").exists()
        ):
            return cls.at(settings, fallback)
        return cls.at(settings, default)


def _can_use(root: Path, user: RunAs) -> bool:
    probe = subprocess.run(
        ["test", "-w", str(root), "-a", "-x", str(root)],
        env=_pg_env(),
        cwd="/",
        check=False,
        **user.popen_kwargs(),
    )
    return probe.returncode == 0


def _make_root(root: Path, user: RunAs | None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    if user is not None:
        os.chown(root, user.uid, user.gid)


def prepare_paths(settings: Settings, user: RunAs | None, echo: Echo = quiet) -> PgPaths:
    """Pick (and create) the data root; move to /var/tmp when ``postgres`` cannot reach ours."""
    paths = PgPaths.existing(settings)
    _make_root(paths.root, user)
    if user is not None and not (paths.data / "PG_VERSION").exists():
        if not _can_use(paths.root, user):
            with contextlib.suppress(OSError):
                paths.root.rmdir()
            fallback = fallback_root(settings.state_dir)
            echo(
                f"postgres: user '{SYSTEM_USER}' cannot reach {paths.root}; "
                f"using {fallback} instead"
            )
            fallback.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(fallback.parent, 0o755)
            _make_root(fallback, user)
            paths = PgPaths.at(settings, fallback)
    _make_root(paths.socket_dir, user)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    return paths


def ensure_binaries(settings: Settings, echo: Echo = quiet) -> Path:
    """The server binary directory; installs ``postgresql-<major>`` with apt when root."""
    bin_dir = settings.postgres_bin_dir
    if (bin_dir / "postgres").exists() and (bin_dir / "initdb").exists():
        return bin_dir
    major = bin_dir.parent.name if bin_dir.parent.name.isdigit() else "15"
    if not _is_root() or not shutil.which("apt-get"):
        raise StackError(
            f"PostgreSQL server binaries not found in {bin_dir}: install them "
            f"(sudo apt-get install postgresql-{major}) or set CANARY_POSTGRES_BIN_DIR"
        )
    echo(f"postgres: installing postgresql-{major} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = [
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", f"postgresql-{major}"],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0 and cmd[1] == "install":
            proc = subprocess.run(
                [*cmd[:-1], "postgresql"], env=env, capture_output=True, text=True, check=False
            )
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise StackError(f"'{' '.join(cmd)}' failed: {tail}")
    if not (bin_dir / "postgres").exists():
        raise StackError(
            f"apt-get ran but {bin_dir}/postgres is still missing: point "
            "CANARY_POSTGRES_BIN_DIR at the installed server's bin directory"
        )
    return bin_dir


def server_version(bin_dir: Path) -> str:
    """``15.18`` style version of the server binary (``unknown`` if it cannot tell)."""
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True, text=True, check=False, timeout=10,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
    return match.group(1) if match else "unknown"


def render_hba() -> str:
    """``pg_hba.conf``: socket trust for the superuser, scram for everyone on 127.0.0.1."""
    return PG_HBA.format(superuser=SUPERUSER)


def server_args(settings: Settings, paths: PgPaths, bin_dir: Path) -> list[str]:
    """The postgres command line: loopback only, our port, socket in our directory."""
    options = {
        "listen_addresses": HOST,
        "port": str(settings.postgres_port),
        "unix_socket_directories": str(paths.socket_dir),
        "unix_socket_permissions": "0700",
        "max_connections": "200",
        "password_encryption": "scram-sha-256",
        "logging_collector": "off",
        "log_destination": "stderr",
        "log_line_prefix": "%m [%p] %q%u@%d ",
    }
    args = [str(bin_dir / "postgres"), "-D", str(paths.data)]
    for key, value in options.items():
        args += ["-c", f"{key}={value}"]
    return args


def _write_owned(path: Path, text: str, user: RunAs | None) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)
    if user is not None:
        os.chown(path, user.uid, user.gid)


def initdb(bin_dir: Path, paths: PgPaths, user: RunAs | None, echo: Echo = quiet) -> None:
    """Create the cluster (first start only)."""
    echo(f"postgres: initdb {paths.data}")
    if paths.data.exists() and not any(paths.data.iterdir()):
        paths.data.rmdir()
    kwargs = user.popen_kwargs() if user else {}
    proc = subprocess.run(
        [
            str(bin_dir / "initdb"), "-D", str(paths.data), "-U", SUPERUSER,
            "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--no-instructions",
        ],
        cwd=paths.root, env=_pg_env(), capture_output=True, text=True, check=False, **kwargs,
    )  # fmt: skip
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        raise StackError(f"initdb failed: {lines[0]}")


def _check_same_address(paths: PgPaths, wanted: str) -> None:
    try:
        running = json.loads(paths.info.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return
    if running and running != wanted:
        raise StackError(
            f"postgres is already running on {running} but the settings say {wanted}: "
            "run 'canary-stream stack down' first"
        )


def check_port_free(settings: Settings) -> None:
    """Raise ``StackError`` when someone else already listens on the server's port."""
    if port_open(HOST, settings.postgres_port):
        raise StackError(
            f"port {HOST}:{settings.postgres_port} is already in use by a process this stack "
            "did not start; stop it or set CANARY_POSTGRES_PORT"
        )


def running_pid(settings: Settings) -> int | None:
    """Pid of the postmaster this state directory started, if it still runs."""
    return PgPaths.existing(settings).pidfile.live_pid()


def start(settings: Settings, echo: Echo = quiet) -> int:
    """Start the server (installing binaries and running initdb if needed); returns its pid."""
    existing = PgPaths.existing(settings)
    pid = existing.pidfile.live_pid()
    if pid is not None:
        _check_same_address(existing, f"{HOST}:{settings.postgres_port}")
        echo(f"postgres: already running (pid {pid})")
        return pid
    existing.pidfile.remove()
    check_port_free(settings)
    bin_dir = ensure_binaries(settings, echo)
    user = run_as()
    paths = prepare_paths(settings, user, echo)
    version = server_version(bin_dir)
    pg_version_file = paths.data / "PG_VERSION"
    if not pg_version_file.exists():
        initdb(bin_dir, paths, user, echo)
    data_major = pg_version_file.read_text().strip()
    if version != "unknown" and version.split(".")[0] != data_major:
        raise StackError(
            f"{paths.data} was created by PostgreSQL {data_major} but {bin_dir} is {version}: "
            "delete the data directory or point CANARY_POSTGRES_BIN_DIR at the matching server"
        )
    _write_owned(paths.data / "pg_hba.conf", render_hba(), user)
    kwargs = user.popen_kwargs() if user else {}
    with paths.log.open("ab") as log:
        proc = subprocess.Popen(
            server_args(settings, paths, bin_dir),
            cwd=paths.root,
            env=_pg_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
    paths.pidfile.write(proc.pid)
    paths.info.write_text(
        json.dumps(
            {
                "version": version,
                "address": f"{HOST}:{settings.postgres_port}",
                "data_dir": str(paths.data),
                "socket_dir": str(paths.socket_dir),
                "relocated": paths.relocated,
                "log": str(paths.log),
            },
            indent=2,
        )
    )
    echo(f"postgres: started pid {proc.pid} on {HOST}:{settings.postgres_port}")
    return proc.pid


def _admin_connect(settings: Settings, paths: PgPaths, timeout: float = 3.0) -> Any:
    import psycopg

    return psycopg.connect(
        host=str(paths.socket_dir),
        port=settings.postgres_port,
        user=SUPERUSER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=max(1, int(timeout)),
    )


def wait_ready(settings: Settings, pid: int, timeout: float = READY_TIMEOUT) -> None:
    """Block until the server accepts an admin connection, or raise ``StackError``."""
    import psycopg

    paths = PgPaths.existing(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise StackError(f"postgres exited during start-up: {last_log_line(paths.log)}")
        try:
            with _admin_connect(settings, paths):
                return
        except psycopg.OperationalError:
            time.sleep(0.3)
    raise StackError(
        f"postgres did not accept connections within {timeout:.0f}s (see {paths.log}): "
        f"{last_log_line(paths.log)}"
    )


def bootstrap(settings: Settings) -> None:
    """Create or update the owner role, the application role and the database (idempotent)."""
    from psycopg import sql

    owner = DbUrl(settings.owner_database_url.get_secret_value(), what="CANARY_OWNER_DATABASE_URL")
    app = DbUrl(settings.database_url.get_secret_value(), what="CANARY_DATABASE_URL")
    for url, name in ((owner, "CANARY_OWNER_DATABASE_URL"), (app, "CANARY_DATABASE_URL")):
        if url.user == SUPERUSER:
            raise ConfigError(f"{name}: role '{SUPERUSER}' is reserved for the stack's superuser")
    paths = PgPaths.existing(settings)
    with _admin_connect(settings, paths) as conn:
        roles = [(owner.user, owner.password)]
        if app.user != owner.user:
            roles.append((app.user, app.password))
        for role, password in roles:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            # The owner may create databases: the migration test runs in a scratch database.
            createdb = "CREATEDB" if role == owner.user else "NOCREATEDB"
            conn.execute(
                sql.SQL(
                    "{} ROLE {} WITH LOGIN NOSUPERUSER {} NOCREATEROLE NOREPLICATION "
                    "NOBYPASSRLS PASSWORD {}"
                ).format(
                    sql.SQL("ALTER" if exists else "CREATE"),
                    sql.Identifier(role),
                    sql.SQL(createdb),
                    sql.Literal(password),
                )
            )
        for database in dict.fromkeys((owner.database, app.database)):
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if row is None:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database), sql.Identifier(owner.user)
                    )
                )
            elif row[0] != owner.user:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(database), sql.Identifier(owner.user)
                    )
                )
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(app.user)
                )
            )


def app_url(settings: Settings) -> str:
    """The application role's URL on the local server."""
    return DbUrl(settings.database_url.get_secret_value(), what="CANARY_DATABASE_URL").local_url(
        settings.postgres_port, HOST
    )


def owner_url(settings: Settings) -> str:
    """The owner role's URL on the local server."""
    return DbUrl(
        settings.owner_database_url.get_secret_value(), what="CANARY_OWNER_DATABASE_URL"
    ).local_url(settings.postgres_port, HOST)


def check_app(settings: Settings, timeout: float = 5.0) -> None:
    """Connect over TCP as the application role; raises ``StackError`` if that fails."""
    import psycopg

    try:
        with psycopg.connect(app_url(settings), connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StackError(f"postgres: cannot connect as the application role: {first}") from exc
