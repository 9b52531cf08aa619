/*
 * bulwark-device: command table and the option parser (a copy of the
 * operator CLI's src/cmd/bulwark/cli.h; programs build from their own
 * directory only). The option table also prints --help.
 *
 * Exit codes: BW_DEV_EXIT_* in src/device/device.h, docs/device.md.
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

/* ---- commands (one file each) ------------------------------------------ */
struct bw_dev;
/* Open the agent for config (NULL: $BW_DEVICE_CONFIG or the default). */
int bw_devcmd_open(const char *prog, const char *config, int readonly,
		   struct bw_dev **out);
#define BW_DEVICE_DEFAULT_CONFIG "/etc/bulwark/device.ini"
/* A command whose only option is --config (and -v): parse, open, run fn. */
int bw_devcmd_simple(int argc, char **argv, const char *prog,
		     const char *desc, int (*fn)(struct bw_dev *),
		     int readonly);

int bw_devcmd_provision(int argc, char **argv);
int bw_devcmd_register(int argc, char **argv);
int bw_devcmd_check(int argc, char **argv);
int bw_devcmd_list(int argc, char **argv);
int bw_devcmd_pull(int argc, char **argv);
int bw_devcmd_install(int argc, char **argv);
int bw_devcmd_boot(int argc, char **argv);
int bw_devcmd_run(int argc, char **argv);
int bw_devcmd_rollback(int argc, char **argv);
int bw_devcmd_status(int argc, char **argv);
int bw_devcmd_send_events(int argc, char **argv);
int bw_devcmd_daemon(int argc, char **argv);

#endif
