"""Throwaway PostgreSQL clusters for the integration tests.

A cluster is a real PostgreSQL server (initdb + pg_ctl from the Debian
`postgresql` package) in a temporary directory, listening on 127.0.0.1 on
its own free port and a socket in that directory, with fsync off (a test
cluster needs no durability against power loss) and trust authentication
for the local superuser. As root the server runs as the `postgres` user
(PostgreSQL refuses to run as root).

shared() gives one cluster per test process (started on first use, stopped
at exit); each bulwarkd of a test gets its own database (createdb), so
tests stay independent and the suite pays the start-up once.

Cluster.standby() makes a streaming replica of a cluster (pg_basebackup
-R) for the failover tests.

Environment: BW_TEST_STORAGE=postgresql makes bwserver.Server
use it (the suite runs once per backend).
"""
import atexit
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from bwtest import free_port


def pg_bindir():
    """The newest installed PostgreSQL's bin directory, or None."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(dirs[-1]) if dirs else None


def available():
    return pg_bindir() is not None


class Cluster:
    def __init__(self, datadir=None, port=None):
        self.bindir = pg_bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL is not installed "
                               "(scripts/install-deps.sh installs it)")
        self.top = tempfile.mkdtemp(prefix="bw-pg-")
        self.data = datadir or os.path.join(self.top, "data")
        self.port = port or free_port()
        self.log = os.path.join(self.top, "postgres.log")
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.top, pw.pw_uid, pw.pw_gid)
        self._names = itertools.count(1)
        self.running = False

    def _cmd(self, prog, *args, check=True, timeout=60):
        argv = [os.path.join(self.bindir, prog)] + list(args)
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, cwd="/")
        if check and p.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (prog, p.stdout,
                                                   p.stderr))
        return p

    def init(self, primary=False):
        self._cmd("initdb", "-D", self.data, "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("fsync = off\nsynchronous_commit = on\n"
                    "full_page_writes = off\nmax_connections = 200\n")
            if primary:
                f.write("wal_level = replica\nmax_wal_senders = 4\n"
                        "wal_keep_size = '64MB'\n")
        if primary:
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host replication postgres 127.0.0.1/32 trust\n")
        return self

    def start(self):
        self._cmd("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t",
                  "30", "-o", "-k %s -c listen_addresses=127.0.0.1 -p %d"
                  % (self.top, self.port), "start")
        self.running = True
        return self

    def stop(self, mode="fast"):
        if self.running:
            self._cmd("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t",
                      "30", "stop", check=False)
        self.running = False

    def kill(self):
        """SIGKILL the postmaster (and with it the server): a crash."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, 9)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # the backends notice the postmaster's death and exit by themselves
        self.running = False

    def promote(self):
        self._cmd("pg_ctl", "-D", self.data, "-w", "-t", "30", "promote")

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.top, ignore_errors=True)

    def url(self, db):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def createdb(self, prefix="bw"):
        name = "%s_%d_%d" % (prefix, os.getpid(), next(self._names))
        self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", name)
        return name

    def psql(self, db, sql):
        """Rows of one query, as lists of strings."""
        p = self._cmd("psql", "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "postgres", "-d", db, "-X", "-A", "-t",
                      "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql)
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def standby(self):
        """A streaming replica of this (primary) cluster, started."""
        sb = Cluster()
        self._cmd("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "-D", sb.data, "-R", "-X", "stream",
                  "-c", "fast")
        sb.start()
        return sb


_shared = None


def shared():
    """The test process's cluster (started once, removed at exit)."""
    global _shared
    if _shared is None:
        _shared = Cluster().init().start()
        atexit.register(_shared.remove)
    return _shared
