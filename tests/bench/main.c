/*
 * main.c - comity-bench: options, the table of scenarios, runs and
 * medians.
 *
 * For each scenario chosen and each run, a fresh two-authority network
 * is started (new stores, new ports; the PKI is made once), the
 * scenario's function drives it, the daemons' peak RSS is read before
 * they are stopped, and one JSON line is printed on stdout.  With more
 * than one run, a last line per scenario holds the medians.  The
 * scenarios that need another network (links, restart) make it
 * themselves and read their daemons' RSS themselves.
 *
 * Exit status: 0 when every run completed, 1 when one failed, 64 on a
 * usage error, 130 when interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bench.h"

#define RUNS_MAX	100
#define COUNT_MAX	10000000LL
#define SIZE_MAX_BYTES	(256LL << 20)
#define TIMEOUT_MAX_S	86400LL
#define JSON_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * The scenarios, in the order a plain run does them.  A new scenario is
 * a function of this shape and a line here.
 */
static const struct scenario scenarios[] = {
	{ "fsync", "the machine's latency of one fsync'd LMDB commit (1 put) "
	    "on the stores' disk, COUNT commits, and the CPU of a commit of "
	    "1 MiB; no daemons",
	    200, 200, 0, 120, 0, fsync_run },
	{ "crypto", "the machine's CMS rates per core (seal, open, receipt "
	    "sign and verify), the crypto ceiling, and the other work on a "
	    "1 MiB document (SHA-256, TLS records, a socket); no daemons",
	    1000000, 1000000, 1024, 120, 0, crypto_run },
	{ "bulk", "COUNT x SIZE bytes A->B from --clients concurrent "
	    "connections; msgs/s, submit->DELIVERED latency (T1, T7)",
	    20000, 1000, 1024, 600, 1, bulk_run },
	{ "documents", "as bulk with documents of 1 MiB; MB/s (T4, T7)",
	    500, 20, 1 << 20, 600, 1, documents_run },
	{ "idle", "COUNT x SIZE bytes A->B one at a time, each waited for "
	    "until DELIVERED; submit->DELIVERED latency (T2)",
	    300, 50, 1024, 300, 1, idle_run },
	{ "urgent", "COUNT urgent requests of SIZE bytes, one every 100 ms, "
	    "while --clients connections saturate the link (T3)",
	    100, 20, 1024, 600, 1, urgent_run },
	{ "links", "one daemon holding COUNT idle authenticated peer links; "
	    "its RSS (T6)",
	    1000, 100, 0, 600, 0, links_run },
	{ "restart", "a sender with COUNT x SIZE bytes queued for a peer "
	    "that is down, restarted: start->ready, and the same with a "
	    "small queue (T5)",
	    1000000, 10000, 64, 7200, 0, restart_run },
};
#define NSCENARIOS	(sizeof(scenarios) / sizeof(scenarios[0]))

void
bench_log(const char *fmt, ...)
{
	va_list	ap;

	flockfile(stderr);	/* one line, whichever thread logs */
	fputs("comity-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f,
	    "usage: comity-bench [--scenario NAME[,NAME...]] [--runs N] "
	    "[--quick]\n"
	    "                    [--count N] [--size BYTES] [--clients N]\n"
	    "                    [--batch N] [--timeout SECONDS] [--keep]\n"
	    "\n"
	    "Builds a two-authority comity network on 127.0.0.1 in a "
	    "temporary\n"
	    "directory, drives it through libcomity and prints one JSON line "
	    "per\n"
	    "scenario run (and the medians when --runs is above 1), with the\n"
	    "targets of shared/TARGETS.md computed from the machine's own\n"
	    "figures measured in the same invocation (fsync, crypto, idle).\n"
	    "\n"
	    "  --scenario NAME,...  only these scenarios (in the order below)\n"
	    "  --runs N             runs of each scenario, 1-%d; then the "
	    "medians\n"
	    "  --quick              the scenarios' small default counts\n"
	    "  --count N            requests per run (fsync: commits; crypto: "
	    "most\n"
	    "                       operations; links: links; restart: "
	    "queued)\n"
	    "  --size BYTES         document size (fsync and links ignore it)\n"
	    "  --clients N          submitting connections, 1-%d (bulk, "
	    "documents,\n"
	    "                       urgent, restart's fill; default %d)\n"
	    "  --batch N            bulk, documents, urgent's bulk: requests\n"
	    "                       per submit call, 1-256 (1: comity_submit();\n"
	    "                       default 32, and 1 for documents of 64 KiB\n"
	    "                       or more)\n"
	    "  --timeout SECONDS    bound on one run (restart: fill included)\n"
	    "  --keep               leave the temporary directory and the "
	    "logs\n"
	    "\n"
	    "Scenarios, in the order they run (all when --scenario is not "
	    "given):\n", RUNS_MAX, CLIENTS_MAX, CLIENTS_DEFAULT);
	for (i = 0; i < NSCENARIOS; i++) {
		fprintf(f, "  %-10s %s\n             default %lld (--quick "
		    "%lld)", scenarios[i].name, scenarios[i].summary,
		    scenarios[i].count, scenarios[i].quick_count);
		if (scenarios[i].size > 0)
			fprintf(f, " x %lld bytes", scenarios[i].size);
		fprintf(f, ", --timeout %u\n", scenarios[i].timeout_s);
	}
	fprintf(f,
	    "\n"
	    "Environment: COMITY_BUILD_DIR (holds daemon/comityd), "
	    "COMITY_SOURCE_DIR\n"
	    "(holds certs/mkpki), TMPDIR.\n");
}

/* A number in [MIN, MAX], whole string, or -1 (and why). */
static int
parse_num(const char *opt, const char *s, long long min, long long max,
    long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		bench_log("%s: '%s' is not a number from %lld to %lld", opt, s,
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static const struct scenario *
scenario_find(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < NSCENARIOS; i++)
		if (strlen(scenarios[i].name) == len &&
		    strncmp(scenarios[i].name, name, len) == 0)
			return &scenarios[i];
	return NULL;
}

/* Is NAME in LIST (comma-separated; NULL: every scenario)? */
static int
scenario_chosen(const char *list, const char *name)
{
	size_t	len;

	if (list == NULL)
		return 1;
	for (;; list += len + 1) {
		len = strcspn(list, ",");
		if (len == strlen(name) && strncmp(list, name, len) == 0)
			return 1;
		if (list[len] == '\0')
			return 0;
	}
}

/* Every name of LIST is a scenario: 0, or -1 (and why). */
static int
scenario_check(const char *list)
{
	size_t	len;

	for (;; list += len + 1) {
		len = strcspn(list, ",");
		if (scenario_find(list, len) == NULL) {
			bench_log("no scenario '%.*s'", (int)len, list);
			return -1;
		}
		if (list[len] == '\0')
			return 0;
	}
}

enum { OPT_SCENARIO = 256, OPT_RUNS, OPT_QUICK, OPT_COUNT, OPT_SIZE,
	OPT_TIMEOUT, OPT_CLIENTS, OPT_BATCH, OPT_KEEP, OPT_HELP };

static int
parse_opts(int argc, char *argv[], struct bench_opts *o)
{
	static const struct option opts[] = {
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	long long	v;
	int		ch;

	memset(o, 0, sizeof(*o));
	o->runs = 1;
	o->size = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SCENARIO:
			if (scenario_check(optarg) == -1)
				return -1;
			o->scenario = optarg;
			break;
		case OPT_RUNS:
			if (parse_num("--runs", optarg, 1, RUNS_MAX, &v) == -1)
				return -1;
			o->runs = (unsigned)v;
			break;
		case OPT_QUICK:
			o->quick = 1;
			break;
		case OPT_COUNT:
			if (parse_num("--count", optarg, 1, COUNT_MAX,
			    &o->count) == -1)
				return -1;
			break;
		case OPT_SIZE:
			if (parse_num("--size", optarg, 0, SIZE_MAX_BYTES,
			    &o->size) == -1)
				return -1;
			break;
		case OPT_TIMEOUT:
			if (parse_num("--timeout", optarg, 1, TIMEOUT_MAX_S,
			    &v) == -1)
				return -1;
			o->timeout_s = (unsigned)v;
			break;
		case OPT_CLIENTS:
			if (parse_num("--clients", optarg, 1, CLIENTS_MAX,
			    &v) == -1)
				return -1;
			o->clients = (unsigned)v;
			break;
		case OPT_BATCH:
			if (parse_num("--batch", optarg, 1, COMITY_BATCH_MAX,
			    &v) == -1)
				return -1;
			o->batch = (unsigned)v;
			break;
		case OPT_KEEP:
			o->keep = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc) {
		bench_log("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

static void
args_fill(const struct bench *b, const struct scenario *sc, unsigned run,
    struct run_args *a)
{
	const struct bench_opts	*o = &b->opts;

	a->run = run;
	a->count = o->count > 0 ? o->count : o->quick ? sc->quick_count :
	    sc->count;
	a->size = o->size >= 0 ? o->size : sc->size;
	a->timeout_s = o->timeout_s > 0 ? o->timeout_s : sc->timeout_s;
	a->clients = o->clients > 0 ? o->clients : CLIENTS_DEFAULT;
	a->batch = o->batch > 0 ? o->batch : a->size >= BATCH_SIZE_MAX ? 1 :
	    BATCH_DEFAULT;
}

static int
print_line(json_t *o)
{
	char	*s;
	int	 rc = 0;

	if ((s = json_dumps(o, JSON_FLAGS)) == NULL) {
		bench_log("cannot format the result");
		return -1;
	}
	if (printf("%s\n", s) < 0 || fflush(stdout) == EOF) {
		bench_log("stdout: %s", strerror(errno));
		rc = -1;
	}
	free(s);
	return rc;
}

/*
 * One run of SC on a fresh network: *OUT is its result, or NULL when the
 * scenario failed.  Returns -1 when anything failed (a daemon that does
 * not stop cleanly fails the run, but its figures are still given).
 */
static int
run_one(struct bench *b, const struct scenario *sc, unsigned run,
    json_t **out)
{
	struct net	 net;
	struct run_args	 a;
	json_t		*o;
	double		 load;
	int		 rc;

	*out = NULL;
	args_fill(b, sc, run, &a);
	bench_log("%s run %u of %u: starting the network", sc->name, run,
	    b->opts.runs);
	if ((o = json_object()) == NULL)
		return -1;
	json_object_set_new(o, "scenario", json_string(sc->name));
	json_object_set_new(o, "run", json_integer(run));
	/* the machine is shared: say how busy it was */
	if (getloadavg(&load, 1) == 1)
		json_object_set_new(o, "load_1m",
		    json_real(stats_round(load, 2)));
	if (!sc->needs_net) {
		memset(&net, 0, sizeof(net));
		rc = sc->run(b, &net, &a, o);
		if (rc == 0)
			*out = o;
		else
			json_decref(o);
		return rc;
	}
	if (net_up(b, &net, sc->name, run) == -1) {
		json_decref(o);
		return -1;
	}
	rc = sc->run(b, &net, &a, o);
	/* unless the scenario read them at a moment of its choosing */
	if (rc == 0 && json_object_get(o, "rss_peak_kib") == NULL)
		rc = net_rss_add(&net, o);
	if (rc == 0)
		*out = o;
	else
		json_decref(o);
	if (net_down(b, &net) == -1)
		rc = -1;
	return rc;
}

/* Every run of SC; the medians after them.  0 or -1. */
static int
run_scenario(struct bench *b, const struct scenario *sc)
{
	json_t		*res[RUNS_MAX], *med, *ref;
	unsigned	 i, n = 0;
	int		 rc = 0;

	for (i = 1; i <= b->opts.runs && rc == 0; i++) {
		rc = run_one(b, sc, i, &res[n]);
		if (res[n] != NULL) {
			target_apply(b, sc->name, res[n]);
			if (print_line(res[n++]) == -1)
				rc = -1;
		}
		if (bench_interrupted)
			rc = -1;
	}
	if (rc == 0 && n > 1) {
		if ((med = stats_median(res, n)) == NULL) {
			bench_log("cannot compute the medians");
			rc = -1;
		} else {
			json_object_set_new(med, "run", json_string("median"));
			json_object_set_new(med, "runs", json_integer(n));
			/* from the medians, not copied from the first run */
			target_apply(b, sc->name, med);
			rc = print_line(med);
			target_note(b, sc->name, med);
			json_decref(med);
		}
	} else if (rc == 0 && n == 1)
		target_note(b, sc->name, res[0]);
	if (rc == 0 && (ref = target_reference(b)) != NULL) {
		rc = print_line(ref);
		json_decref(ref);
	}
	for (i = 0; i < n; i++)
		json_decref(res[i]);
	return rc;
}

int
main(int argc, char *argv[])
{
	static struct bench	b;
	size_t			i;

	if (parse_opts(argc, argv, &b.opts) == -1) {
		usage(stderr);
		return EX_USAGE;
	}
	if (net_setup(&b) == -1)
		return bench_interrupted ? 130 : 1;
	for (i = 0; i < NSCENARIOS; i++) {
		if (!scenario_chosen(b.opts.scenario, scenarios[i].name))
			continue;
		if (run_scenario(&b, &scenarios[i]) == -1) {
			if (bench_interrupted)
				return 130;
			if (!b.opts.keep)
				bench_log("failed (--keep keeps the daemons' "
				    "logs)");
			return 1;
		}
	}
	return 0;
}
