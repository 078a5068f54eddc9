"""A real PostgreSQL server for the team-mode tests: Debian's binaries, a throw-away cluster in a temp
folder, listening on 127.0.0.1 at a free port (and a socket in the same folder).

initdb and postgres refuse to run as root, and CI runs as root: there the server runs as the
``postgres`` user the Debian package creates (else ``nobody``) through ``runuser``, in a folder made
for it outside pytest's root-only temp folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin_dir() -> Path | None:
    if os.environ.get("ESIMDESK_PG_BIN"):
        return Path(os.environ["ESIMDESK_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_not() -> str | None:
    """None when a server can be started here; else the reason, for a skip."""
    if _bin_dir() is None:
        return "no PostgreSQL server binaries (Debian package 'postgresql'; .ci/run installs it)"
    if os.geteuid() == 0 and not (shutil.which("runuser") and _run_as() is not None):
        return "running as root without runuser or an unprivileged user to run PostgreSQL as"
    return None


def _run_as() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="esimdesk-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = _run_as() if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.root, 0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd=self.root, timeout=120)

    def init(self) -> PgServer:
        # trust on 127.0.0.1 for the superuser the tests use; a password role is made for the app's tests.
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as conf:
            # fsync off: a test cluster; commits still survive a crash of the server process (the tests stop it so)
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "fsync = off\nmax_connections = 200\n")
        with open(self.data / "pg_hba.conf", "w") as hba:
            hba.write("local all postgres trust\nhost all postgres 127.0.0.1/32 trust\n"
                      "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n")
        return self

    def enable_tls(self) -> Path:
        """TLS only (plain connections refused) with a server certificate for 127.0.0.1 from a throw-away
        CA (openssl: the postgresql package depends on it through ssl-cert); the CA file, for sslrootcert."""
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=self.root, check=True, capture_output=True, timeout=60)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-subj", "/CN=esimdesk test CA", "-days", "2")
        (self.root / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=127.0.0.1")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
        for name in ("server.key", "server.crt", "ca.crt"):
            if self.user is not None:
                os.chown(self.root / name, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.root / "server.key", 0o600)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"ssl = on\nssl_cert_file = '{self.root}/server.crt'\nssl_key_file = '{self.root}/server.key'\n")
        with open(self.data / "pg_hba.conf", "w") as hba:
            hba.write("local all postgres trust\nhostssl all postgres 127.0.0.1/32 trust\n"
                      "hostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        return self.root / "ca.crt"

    def start(self) -> PgServer:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, db: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def admin(self, sql: str, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            conn.execute(sql)

    def cleanup(self) -> None:
        self.stop("immediate")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                shutil.rmtree(self.root)
                return
            except OSError:
                time.sleep(0.2)
