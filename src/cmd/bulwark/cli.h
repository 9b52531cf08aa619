/*
 * The bulwark operator CLI: command tables and the option parser that also
 * prints --help (src/cmd/bulwark/cli.c).
 *
 * Adding a command group (e.g. `bulwark factory ...`, `bulwark keys tuf
 * ...`): write <group>.c with an entry point `int bw_cli_<group>(int argc,
 * char **argv)` that dispatches its own table with bw_cli_dispatch(),
 * declare it below, and add one line to the table in main.c.
 *
 * Exit codes (stable, docs/pki.md): 0 success, 1 failure, 2 usage error.
 */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include <stddef.h>

#define BW_EXIT_OK 0
#define BW_EXIT_FAIL 1
#define BW_EXIT_USAGE 2

/* One (sub)command: argv[0] is the command's own name. */
struct bw_cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/*
 * Run the entry of cmds named by argv[1] with argv + 1. `--help`, `-h` or
 * no argument print the table; an unknown name is a usage error. prog is
 * the command path for messages ("bulwark keys ca").
 */
int bw_cli_dispatch(const char *prog, const char *what,
		    const struct bw_cli_cmd *cmds, size_t n, int argc,
		    char **argv);

enum bw_cli_opt_type {
	BW_CLI_FLAG = 1, /* int *: set to 1 */
	BW_CLI_STR,      /* const char **: given at most once */
	BW_CLI_LIST,     /* struct bw_cli_list *: repeatable */
};

#define BW_CLI_LIST_MAX 32
struct bw_cli_list {
	const char *v[BW_CLI_LIST_MAX];
	size_t n;
};

/* One option: "--name", its argument name (NULL for a flag), help text. */
struct bw_cli_opt {
	const char *name;
	enum bw_cli_opt_type type;
	const char *arg;
	const char *help;
	void *dest;
};

/* A command's usage, description and options; the parser prints --help. */
struct bw_cli_spec {
	const char *prog;  /* "bulwark keys ca create" */
	const char *usage; /* "DIR --factory NAME [options]" */
	const char *desc;  /* paragraph(s) */
	const struct bw_cli_opt *opts;
	size_t nopts;
	const char **pos;  /* positional arguments land here */
	size_t npos_min, npos_max;
};

/*
 * Parse argv[1..] against spec. Returns BW_EXIT_OK with *done = 0 to go
 * on; with *done = 1 and BW_EXIT_OK after printing --help; BW_EXIT_USAGE
 * after printing the problem and a hint.
 */
int bw_cli_parse(const struct bw_cli_spec *spec, int argc, char **argv,
		 int *done);

/* Print "prog: message" to stderr and return BW_EXIT_FAIL. */
int bw_cli_fail(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print a usage problem and return BW_EXIT_USAGE. */
int bw_cli_usage(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- command groups ---------------------------------------------------- */
int bw_cli_keys_ca(int argc, char **argv);

#endif
