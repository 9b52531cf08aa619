/*
 * A throwaway PostgreSQL cluster for a benchmark (header-only: every
 * bench/<name>.c is its own program). initdb + pg_ctl from the Debian
 * `postgresql` package, as the `postgres` user when run as root
 * (PostgreSQL refuses root), on 127.0.0.1 and a free port, with the
 * default durability (fsync on, synchronous_commit on): what a deployment
 * runs. Stopped (immediate) and removed by bench_pg_stop().
 */
#ifndef BW_BENCH_PG_H
#define BW_BENCH_PG_H

#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

struct bench_pg {
	char dir[128];
	char bin[128];
	char url[256];
	char as[64]; /* "runuser -u postgres -- " or "" */
	int port;
	int running;
};

/* Run one command line (as the postgres user when root); 0 if it worked. */
static int bench_pg_sh(const struct bench_pg *pg, const char *line)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cd / && %s%s >/dev/null 2>&1", pg->as,
		 line);
	return system(cmd) == 0 ? 0 : -1;
}

/* 0 and pg->url set, or -1 (PostgreSQL missing or failing). */
static int bench_pg_start(struct bench_pg *pg, int port)
{
	glob_t g;
	char line[1000];
	struct passwd *pw = NULL;

	memset(pg, 0, sizeof(*pg));
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
		return -1;
	snprintf(pg->bin, sizeof(pg->bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	*strrchr(pg->bin, '/') = '\0';
	snprintf(pg->dir, sizeof(pg->dir), "/tmp/bench-pg-XXXXXX");
	if (!mkdtemp(pg->dir))
		return -1;
	if (geteuid() == 0) {
		if (!(pw = getpwnam("postgres")) ||
		    chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0)
			return -1;
		snprintf(pg->as, sizeof(pg->as), "runuser -u postgres -- ");
	}
	pg->port = port;
	snprintf(line, sizeof(line),
		 "%s/initdb -D %s/data -U postgres --auth=trust", pg->bin,
		 pg->dir);
	if (bench_pg_sh(pg, line))
		return -1;
	snprintf(line, sizeof(line),
		 "%s/pg_ctl -D %s/data -l /dev/null -w -o '-k %s -c "
		 "listen_addresses=127.0.0.1 -p %d -c max_connections=50' "
		 "start",
		 pg->bin, pg->dir, pg->dir, port);
	if (bench_pg_sh(pg, line))
		return -1;
	pg->running = 1;
	snprintf(line, sizeof(line),
		 "%s/createdb -h 127.0.0.1 -p %d -U postgres bench", pg->bin,
		 port);
	if (bench_pg_sh(pg, line))
		return -1;
	snprintf(pg->url, sizeof(pg->url),
		 "postgresql://postgres@127.0.0.1:%d/bench", port);
	return 0;
}

static void bench_pg_stop(struct bench_pg *pg)
{
	char line[400];

	if (pg->running) {
		snprintf(line, sizeof(line),
			 "%s/pg_ctl -D %s/data -m immediate -w stop", pg->bin,
			 pg->dir);
		bench_pg_sh(pg, line);
	}
	pg->running = 0;
	if (pg->dir[0]) {
		snprintf(line, sizeof(line), "rm -rf %s", pg->dir);
		if (system(line) != 0)
			fprintf(stderr, "could not remove %s\n", pg->dir);
		pg->dir[0] = '\0';
	}
}

/*
 * Transactions committed or rolled back in the bench database so far,
 * from pg_stat_database (each statement outside a transaction is one).
 * The server publishes a backend's counts when it goes idle, at most once
 * a second: wait that long after the load before reading. -1 on error.
 */
static long bench_pg_xacts(const struct bench_pg *pg)
{
	PGconn *c = PQconnectdb(pg->url);
	PGresult *r = NULL;
	long n = -1;

	if (PQstatus(c) == CONNECTION_OK &&
	    (r = PQexec(c, "SELECT xact_commit + xact_rollback FROM"
			   " pg_stat_database WHERE datname = 'bench'")) &&
	    PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return n;
}

#endif
