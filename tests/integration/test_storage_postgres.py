"""bulwarkd's PostgreSQL backend on a real throwaway cluster: schema
versions and migrations, gateways starting together on a fresh database,
a database from a newer bulwarkd refused, a server that can not be reached
refused with a clear error, and a bad storage.url refused by
--check-config.

The rest of the server suite runs on PostgreSQL too (ctest's
integration_pg_* tests); this file covers what only this backend has.

Environment: BW_BINARY_DIR (bulwarkd)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import pgcluster
import bwserver as c


# Schema 1: its tables with their columns, and its own indexes.
SCHEMA1 = {
    "devices": {"uuid", "production", "name", "hwid", "tag", "target",
                "fingerprint", "first_seen", "last_seen", "registered"},
    "deny": {"uuid", "reason", "since"},
    "events": {"id", "device", "event_id", "event_type", "received",
               "body"},
    "tokens": {"id", "hash", "scope", "expires", "uses_left", "created",
               "revoked", "comment"},
    "metadata": {"flavour", "tag", "role", "version", "expires", "sha256",
                 "data", "created"},
    "ci_targets": {"name", "length", "sha256", "custom", "added"},
    "schema_version": {"version"},
}


def schema1_sql(pg, db):
    """SQL that takes a database of any later schema back to schema 1."""
    out = []
    for (t,) in pg.psql(db, "SELECT tablename FROM pg_tables"
                        " WHERE schemaname = 'public'"):
        if t not in SCHEMA1:
            out.append("DROP TABLE %s CASCADE;" % t)
    for t, col in pg.psql(db, "SELECT table_name, column_name FROM"
                          " information_schema.columns WHERE"
                          " table_schema = 'public'"):
        if t in SCHEMA1 and col not in SCHEMA1[t]:
            out.append("ALTER TABLE %s DROP COLUMN %s CASCADE;" % (t, col))
    for t, idx in pg.psql(db, "SELECT tablename, indexname FROM pg_indexes"
                          " WHERE schemaname = 'public'"):
        if t in SCHEMA1 and not idx.endswith(("_pkey", "_key")) and \
                idx != "events_received":
            out.append("DROP INDEX IF EXISTS %s;" % idx)
    for (f,) in pg.psql(db, "SELECT proname FROM pg_proc p JOIN"
                        " pg_namespace n ON n.oid = p.pronamespace"
                        " WHERE n.nspname = 'public'"):
        out.append("DROP FUNCTION %s CASCADE;" % f)
    out.append("DELETE FROM schema_version WHERE version > 1;")
    return " ".join(out)


def schema(pg, db):
    return int(pg.psql(db, "SELECT MAX(version) FROM schema_version")[0][0])


@unittest.skipUnless(os.path.exists(c.BULWARKD) and pgcluster.available(),
                     "bulwarkd not built or PostgreSQL not installed")
class PostgresStorage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgcluster.shared()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-pgstore-")
        self.tuf = c.Tuf()
        self.pki = c.make_pki(os.path.join(self.tmp, "pki"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, name, url, **kw):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        return c.Server(d, self.tuf, pki=self.pki,
                        extra={"storage": {"url": url}}, **kw)

    def check_config(self, srv):
        return c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                     check=False)

    def newest(self):
        """The schema version this bulwarkd writes (a fresh database)."""
        db = self.pg.createdb("fresh")
        p = self.check_config(self.server("fresh", self.pg.url(db)))
        self.assertEqual(p.returncode, 0, p.stderr)
        return db, schema(self.pg, db)

    def test_gateways_starting_together_migrate_once(self):
        db = self.pg.createdb("together")
        url = self.pg.url(db)
        srvs = [self.server("g%d" % i, url) for i in range(3)]
        procs = [subprocess.Popen([c.BULWARKD, "--config", s.conf,
                                   "--check-config"],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for s in srvs]
        for p in procs:
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        _, newest = self.newest()
        rows = self.pg.psql(db, "SELECT version FROM schema_version"
                            " ORDER BY version")
        self.assertEqual([int(r[0]) for r in rows],
                         list(range(1, newest + 1)))

    def test_old_schema_is_migrated_and_data_kept(self):
        db, newest = self.newest()
        self.assertGreaterEqual(newest, 5)
        # back to schema 1: whatever migrations 2.. added is gone
        self.pg.psql(db, schema1_sql(self.pg, db) +
                     " INSERT INTO deny VALUES ('u-1', 'kept', 1)")
        self.assertEqual(schema(self.pg, db), 1)
        srv = self.server("old", self.pg.url(db)).start()
        try:
            st, lst = srv.admin("GET", "/deny")
            self.assertEqual(st, 200, lst)
            self.assertEqual([d["uuid"] for d in lst], ["u-1"])
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(schema(self.pg, db), newest)
        # the counter trigger is back: a deny-list change moves it
        n0 = int(self.pg.psql(db, "SELECT n FROM identity_changes")[0][0])
        self.pg.psql(db, "DELETE FROM deny")
        n1 = int(self.pg.psql(db, "SELECT n FROM identity_changes")[0][0])
        self.assertGreater(n1, n0)

    def test_newer_schema_refused(self):
        db, _ = self.newest()
        self.pg.psql(db, "INSERT INTO schema_version VALUES (999)")
        p = self.check_config(self.server("newer", self.pg.url(db)))
        self.assertEqual(p.returncode, 1)
        self.assertIn("newer than this bulwarkd", p.stderr)

    def test_unreachable_server_refused(self):
        port = c.free_port()
        p = self.check_config(self.server(
            "down", "postgresql://postgres@127.0.0.1:%d/x"
            "?connect_timeout=2" % port))
        self.assertEqual(p.returncode, 1)
        self.assertIn("postgresql", p.stderr)

    def test_bad_url_refused(self):
        for url in ("mysql://127.0.0.1/x", "host=127.0.0.1 dbname=x"):
            p = self.check_config(self.server("bad%d" % len(url), url))
            self.assertEqual(p.returncode, 1)
            self.assertIn("storage.url", p.stderr)

    def test_password_never_in_messages(self):
        port = c.free_port()
        p = self.check_config(self.server(
            "secret", "postgresql://postgres:s3cr3t-pw@127.0.0.1:%d/x"
            "?connect_timeout=2" % port))
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("s3cr3t-pw", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
