/*
 * The command-line framework every bulwark program shares (src/cmd/common/
 * cli.c): command tables dispatched by name (wireguard-tools style) and an
 * option parser whose option table also prints --help.
 *
 * Each program defines bw_cli_exit_help, the line its help pages end with
 * (where its exit codes are documented).
 */
#ifndef BULWARK_BW_CLI_H
#define BULWARK_BW_CLI_H

#include <stddef.h>
#include <stdint.h>

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

/* Or'ed into an option's type: parsing fails when it is not given. */
#define BW_CLI_REQUIRED 0x100u
#define BW_CLI_TYPE(o) ((enum bw_cli_opt_type)((o)->type & 0xffu))

/*
 * One option: "--name", its type (enum bw_cli_opt_type, maybe with
 * BW_CLI_REQUIRED), its argument name (NULL for a flag), help text and
 * where its value lands. A table ends with BW_CLI_END, so it counts
 * itself: an entry added anywhere is parsed and printed by --help.
 */
struct bw_cli_opt {
	const char *name;
	unsigned type;
	const char *arg;
	const char *help;
	void *dest;
};
#define BW_CLI_END {NULL, 0, NULL, NULL, NULL}

/* A command's usage, description and options; the parser prints --help. */
struct bw_cli_spec {
	const char *prog;  /* "bulwark keys ca create" */
	const char *usage; /* "DIR --factory NAME [options]" */
	const char *desc;  /* paragraph(s) */
	const struct bw_cli_opt *opts; /* ends with BW_CLI_END */
	const char **pos;  /* positional arguments land here */
	size_t npos_min, npos_max;
};

/*
 * Parse argv[1..] against spec. Returns BW_EXIT_OK with *done = 0 to go
 * on; with *done = 1 and BW_EXIT_OK after printing --help; BW_EXIT_USAGE
 * after printing the problem and a hint (an unknown option, a value
 * given twice, a BW_CLI_REQUIRED option missing).
 */
int bw_cli_parse(const struct bw_cli_spec *spec, int argc, char **argv,
		 int *done);

/*
 * A number option or argument named name: digits only (bw_num_parse),
 * min <= value <= max (min >= 0). Otherwise prints "name: a number from
 * MIN to MAX" and returns BW_EXIT_USAGE.
 */
int bw_cli_int(const char *prog, const char *name, const char *s, int64_t min,
	       int64_t max, int64_t *out);

/* Print "prog: message" to stderr and return BW_EXIT_FAIL. */
int bw_cli_fail(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print a usage problem and return BW_EXIT_USAGE. */
int bw_cli_usage(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "Exit codes: ..." line each program prints at the end of --help. */
extern const char bw_cli_exit_help[];

#endif
