/*
 * Command tables and the option parser shared by every bulwark program
 * (bw_cli.h). The same option table parses the arguments and prints --help.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bw_cli.h"

int bw_cli_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return BW_EXIT_FAIL;
}

int bw_cli_usage(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return BW_EXIT_USAGE;
}

static void print_table(FILE *f, const char *prog, const char *what,
			const struct bw_cli_cmd *cmds, size_t n)
{
	fprintf(f, "Usage: %s <command> [options]\n\n%s\n\nCommands:\n", prog,
		what);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-20s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for the options of a command.\n"
		   "%s\n",
		prog, bw_cli_exit_help);
}

int bw_cli_dispatch(const char *prog, const char *what,
		    const struct bw_cli_cmd *cmds, size_t n, int argc,
		    char **argv)
{
	if (argc < 2) {
		print_table(stderr, prog, what, cmds, n);
		return BW_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_table(stdout, prog, what, cmds, n);
		return BW_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	return bw_cli_usage(prog, "unknown command '%.64s'", argv[1]);
}

static void print_help(const struct bw_cli_spec *s)
{
	printf("Usage: %s %s\n\n%s\n", s->prog, s->usage, s->desc);
	if (s->opts[0].name != NULL)
		printf("\nOptions:\n");
	for (const struct bw_cli_opt *o = s->opts; o->name != NULL; o++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s%s", o->name,
			 o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "",
			 BW_CLI_TYPE(o) == BW_CLI_LIST ? " ..." : "");
		printf("  %-26s %s%s\n", left, o->help,
		       (o->type & BW_CLI_REQUIRED) != 0 ? " (required)" : "");
	}
	printf("  %-26s %s\n", "-h, --help", "show this help");
	printf("\n%s\n", bw_cli_exit_help);
}

static const struct bw_cli_opt *find_opt(const struct bw_cli_spec *s,
					 const char *name, size_t len)
{
	for (const struct bw_cli_opt *o = s->opts; o->name != NULL; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static int take_value(const struct bw_cli_spec *s, const struct bw_cli_opt *o,
		      const char *val)
{
	if (BW_CLI_TYPE(o) == BW_CLI_STR) {
		const char **d = o->dest;

		if (*d != NULL)
			return bw_cli_usage(s->prog, "%s given twice", o->name);
		*d = val;
	} else {
		struct bw_cli_list *l = o->dest;

		if (l->n >= BW_CLI_LIST_MAX)
			return bw_cli_usage(s->prog, "%s given more than %d times",
					    o->name, BW_CLI_LIST_MAX);
		l->v[l->n++] = val;
	}
	return BW_EXIT_OK;
}

/* Every BW_CLI_REQUIRED option was given. */
static int check_required(const struct bw_cli_spec *s)
{
	for (const struct bw_cli_opt *o = s->opts; o->name != NULL; o++) {
		int given;

		if ((o->type & BW_CLI_REQUIRED) == 0)
			continue;
		if (BW_CLI_TYPE(o) == BW_CLI_STR)
			given = *(const char **)o->dest != NULL;
		else if (BW_CLI_TYPE(o) == BW_CLI_LIST)
			given = ((const struct bw_cli_list *)o->dest)->n > 0;
		else
			given = *(const int *)o->dest != 0;
		if (!given)
			return bw_cli_usage(s->prog, "%s is required", o->name);
	}
	return BW_EXIT_OK;
}

int bw_cli_parse(const struct bw_cli_spec *s, int argc, char **argv, int *done)
{
	size_t npos = 0;
	int only_pos = 0;

	*done = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		const struct bw_cli_opt *o;
		int rc;

		if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			print_help(s);
			*done = 1;
			return BW_EXIT_OK;
		}
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos >= s->npos_max)
				return bw_cli_usage(s->prog,
						    "unexpected argument '%.64s'",
						    a);
			s->pos[npos++] = a;
			continue;
		}
		eq = strchr(a, '=');
		o = find_opt(s, a, eq != NULL ? (size_t)(eq - a) : strlen(a));
		if (o == NULL)
			return bw_cli_usage(s->prog, "unknown option '%.64s'", a);
		if (BW_CLI_TYPE(o) == BW_CLI_FLAG) {
			if (eq != NULL)
				return bw_cli_usage(s->prog,
						    "%s takes no value", o->name);
			*(int *)o->dest = 1;
			continue;
		}
		if (eq == NULL && i + 1 >= argc)
			return bw_cli_usage(s->prog, "%s needs %s", o->name,
					    o->arg);
		rc = take_value(s, o, eq != NULL ? eq + 1 : argv[++i]);
		if (rc != BW_EXIT_OK)
			return rc;
	}
	if (npos < s->npos_min)
		return bw_cli_usage(s->prog, "missing %s", s->usage);
	return check_required(s);
}

int bw_cli_int(const char *prog, const char *name, const char *s, int64_t min,
	       int64_t max, int64_t *out)
{
	uint64_t v = 0;

	*out = 0;
	if (s == NULL || min < 0 || max < min ||
	    bw_num_parse(s, (uint64_t)max, &v) != 0 || v < (uint64_t)min)
		return bw_cli_usage(prog, "%s: a number from %lld to %lld",
				    name, (long long)min, (long long)max);
	*out = (int64_t)v;
	return BW_EXIT_OK;
}
