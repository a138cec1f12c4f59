/*
 * bench.h - comity-bench: what its files share.
 *
 * The benchmark builds a small comity network on 127.0.0.1 in a temporary
 * directory (PKI from certs/mkpki, one configuration per authority,
 * comityd started by fork/exec), drives it through libcomity only, and
 * prints one JSON line per scenario run.  Scenarios are functions in a
 * table (main.c); each fills the JSON object of its run.
 *
 * Invariants: every daemon started is registered so that it is stopped
 * on any exit path (atexit, SIGINT/SIGTERM); every wait is bounded in
 * time and checks bench_interrupted; the library never prints, the
 * benchmark prints results on stdout and progress on stderr only.
 */
#ifndef COMITY_BENCH_H
#define COMITY_BENCH_H

#include <sys/types.h>

#include <limits.h>
#include <signal.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "comity.h"

/* Authorities of a network (the standard one has two). */
#define NET_MAX		2
#define AUTH_ID_MAX	36
/* Networks that may exist at once (restart keeps two across its runs). */
#define NET_LIVE_MAX	4

/* What the command line asked for. */
struct bench_opts {
	const char	*scenario;	/* NULL: every scenario; else a
					   comma-separated list of names */
	unsigned	 runs;		/* >= 1 */
	int		 quick;		/* smaller default counts */
	long long	 count;		/* 0: the scenario's default */
	long long	 size;		/* -1: the scenario's default */
	unsigned	 timeout_s;	/* 0: the scenario's default */
	unsigned	 clients;	/* 0: the default, CLIENTS_DEFAULT */
	unsigned	 batch;		/* 0: the default (run_args) */
	int		 keep;		/* leave the temporary directory */
};

/*
 * Reference figures measured by earlier scenarios of this invocation (the
 * medians when a scenario ran several times), for the targets of later
 * ones (target.c).  0 means "not measured".
 */
struct bench_ref {
	double		 fsync_ms;	/* one fsync'd LMDB commit */
	double		 seal_ms;	/* one seal of crypto_size bytes */
	double		 open_ms;
	double		 sign_ms;	/* one receipt signature */
	double		 verify_ms;	/* one receipt check */
	long long	 crypto_size;
	double		 seal_1m_ms;	/* one seal of 1 MiB */
	double		 open_1m_ms;
	double		 sha256_1m_ms;	/* T4's other work on a document */
	double		 tls_1m_ms;
	double		 socket_1m_ms;
	double		 commit_1m_cpu_ms;	/* from fsync */
	long		 cores;		/* online CPUs when crypto ran */
	double		 idle_p99_ms;	/* T2's p99, for T3 */
	long long	 idle_size;
	int		 printed;	/* the "reference" line is out */
};

/* The benchmark as a whole: options, tools, the temporary directory. */
struct bench {
	struct bench_opts opts;
	struct bench_ref ref;
	char		 comityd[PATH_MAX];	/* the daemon executable */
	char		 mkpki[PATH_MAX];	/* certs/mkpki */
	char		 root[PATH_MAX];	/* mkdtemp; "" until made */
	char		 pki[PATH_MAX];		/* root/pki */
};

/* One comityd of a network. */
struct daemon {
	const char	*role;		/* "sender", "receiver": JSON keys */
	char		 id[AUTH_ID_MAX];
	char		 dir[PATH_MAX];	/* its own directory in the run's */
	char		 conf[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 log[PATH_MAX];
	int		 port;
	int		 stub;		/* in the directory only, never
					   started (net_spec) */
	pid_t		 pid;		/* 0 when not running */
};

/* A network: the standard one of a scenario run, or one a scenario
 * makes for itself. */
struct net {
	char		 dir[PATH_MAX];		/* root/<scenario>-<run>, root/NAME */
	char		 directory[PATH_MAX];	/* the shared directory file */
	struct daemon	 d[NET_MAX];
	size_t		 n;
};

/* Indexes of the standard network's authorities. */
#define NET_SENDER	0
#define NET_RECEIVER	1

/*
 * How a network differs from the standard one (both daemons started on
 * free ports, default configurations).  A daemon not started is a stub:
 * it is in the directory, with STUB_PORT as its endpoint's port when that
 * is set (a listener of the benchmark's), and nothing runs for it.
 */
struct net_spec {
	unsigned	 start;		/* bit (1u << NET_SENDER)...: the
					   daemons started; 0: both */
	int		 stub_port;	/* > 0: the stubs' port */
	unsigned long long map_size;	/* [store] map_size; 0: default */
	const char	*limits;	/* lines of a [limits] section */
};

/* The parameters of one scenario run, defaults applied. */
struct run_args {
	unsigned	 run;		/* 1-based */
	long long	 count;
	long long	 size;
	unsigned	 timeout_s;	/* bound on the whole run */
	unsigned	 clients;	/* concurrent submitting connections */
	unsigned	 batch;		/* requests per submit call */
};

#define CLIENTS_DEFAULT	8
#define CLIENTS_MAX	64
/* bulk: requests per comity_submit_batch() call, unless --batch; 1 (one
 * comity_submit() each) for documents of BATCH_SIZE_MAX bytes or more */
#define BATCH_DEFAULT	32
#define BATCH_SIZE_MAX	(64 << 10)

/*
 * One scenario: its name, defaults and function.  RUN drives NET (up and
 * ready) and adds its figures to OUT; it returns 0, or -1 after saying
 * why on stderr.  The runner adds "scenario", "run" and the daemons'
 * peak RSS, and stops the network.
 */
struct scenario {
	const char	*name;
	const char	*summary;
	long long	 count;		/* default, and with --quick */
	long long	 quick_count;
	long long	 size;		/* default size in bytes */
	unsigned	 timeout_s;	/* default bound on one run */
	int		 needs_net;	/* 0: NET is not started (fsync,
					   crypto; links and restart make
					   networks of their own) */
	int		(*run)(struct bench *, struct net *,
			    const struct run_args *, json_t *out);
};

/* Set by SIGINT/SIGTERM/SIGHUP: every loop stops and fails. */
extern volatile sig_atomic_t	bench_interrupted;

/* bench_log - progress and errors on stderr, one line, prefixed; from
 * any thread (the line is written whole) */
void	bench_log(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* --- net.c: the temporary directory, PKI, configs, daemons --- */

/* net_setup - find the tools, make the temporary directory and the PKI,
 * install the cleanup (atexit and signals); 0 or -1 */
int	net_setup(struct bench *);
/* net_nofile - raise our soft limit of open files to NEED (at most the
 * hard limit); 0, or -1 (and why) when the hard limit is below NEED.  The
 * daemons are still started with the limit we were started with. */
int	net_nofile(unsigned long need);
/* net_up - write the configurations of a two-authority network for one
 * run of SCENARIO and start both daemons; 0 or -1 (nothing left running) */
int	net_up(struct bench *, struct net *, const char *scenario,
	    unsigned run);
/* net_create - write the directory and configurations of a network in
 * root/NAME as SPEC (NULL: the standard one) says, starting nothing; the
 * caller may add to the directory file before net_start().  0 or -1; the
 * caller calls net_down() in both cases. */
int	net_create(struct bench *, struct net *, const char *name,
	    const struct net_spec *spec);
/* net_spawn - fork/exec daemon I of NET, without waiting; 0 or -1 */
int	net_spawn(struct bench *, struct net *, size_t i);
/* net_start - net_spawn(), then wait until its local API answers; 0, or
 * -1 (and why) with the daemon stopped */
int	net_start(struct bench *, struct net *, size_t i);
/* net_stop - stop daemon I (SIGTERM, bounded wait, then SIGKILL); 0, or
 * -1 if it did not stop cleanly */
int	net_stop(struct net *, size_t i);
/* net_check - -1 (and why) if a daemon of NET has exited, else 0 */
int	net_check(struct net *);
/* net_daemon_kib - FIELD of /proc/PID/status ("VmRSS", "VmHWM",
 * "RssAnon") of a running daemon, in KiB; -1 (and why) if unreadable */
long	net_daemon_kib(const struct daemon *, const char *field);
/* net_rss - FIELD of /proc/PID/status of each running daemon but the
 * stubs, in KiB, as an object keyed by role; NULL if one cannot be read */
json_t	*net_rss(const struct net *, const char *field);
/* net_rss_add - rss_peak_kib (VmHWM) and rss_anon_kib (RssAnon) of NET's
 * running daemons into O; 0 or -1 */
int	net_rss_add(const struct net *, json_t *o);
/*
 * net_cpu - the CPU time each running daemon has used so far, in clock
 * ticks: the whole process (threads gone included) and its event loop
 * (the main thread).  net_cpu_per_msg - what they used between two
 * readings, per message: {"sender": {"loop": ms, "workers": ms,
 * "kernel_share": stime / all}, ...}, the workers being every other
 * thread (crypto); NULL when out of memory or MSGS is 0.
 */
struct net_cpu_daemon {
	unsigned long long	all, sys, loop;	/* user + system; system */
	pid_t			pid;		/* 0: not read */
};
struct net_cpu {
	struct net_cpu_daemon	d[NET_MAX];
};
int	net_cpu(const struct net *, struct net_cpu *);
json_t	*net_cpu_per_msg(const struct net *, const struct net_cpu *from,
	    const struct net_cpu *to, size_t msgs);
/* net_down - stop the daemons (SIGTERM, bounded wait, then SIGKILL) and
 * remove the network's directory unless --keep; -1 if one did not stop
 * cleanly */
int	net_down(struct bench *, struct net *);

/* --- stats.c: clocks, percentiles, medians --- */

/* now_ns - CLOCK_MONOTONIC in nanoseconds */
int64_t	now_ns(void);
/* thread_cpu_ns - the calling thread's CPU time, user and kernel, in
 * nanoseconds (CLOCK_THREAD_CPUTIME_ID) */
int64_t	thread_cpu_ns(void);
/* sleep_ms - sleep, returning early on a signal */
void	sleep_ms(unsigned);
/* stats_percentile - nearest-rank percentile P (0..100) of N values,
 * which it sorts in place; 0 when N is 0 */
double	stats_percentile(int64_t *v, size_t n, double p);
/* stats_round - X rounded to DECIMALS places, for printing */
double	stats_round(double x, int decimals);
/* stats_ms - NS nanoseconds in milliseconds, rounded to 3 places */
double	stats_ms(double ns);
/* stats_median - an object whose numbers are the medians of the runs'
 * (recursively for nested objects); other members as in the first run.
 * Caller owns the result. */
json_t	*stats_median(json_t *const *runs, size_t n);

/* --- submit.c: what idle and urgent submit --- */

/* bench_xorshift64 - the next of a fixed pseudo-random sequence (state
 * *X, never 0): filler and draws that are the same every run */
static inline uint64_t
bench_xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}
#define BENCH_XORSHIFT_SEED	0x9e3779b97f4a7c15ULL

/* bench_doc - LEN bytes of incompressible filler, the same every run;
 * caller frees; NULL when out of memory */
uint8_t	*bench_doc(size_t len);
/* bench_request - fill REQ: an MLA request to TO with one document, DOC
 * (DATA, LEN bytes), URGENT or not, of case reference CASE_REF (all
 * borrowed) */
void	bench_request(struct comity_submit *req, struct comity_doc *doc,
	    const char *to, const uint8_t *data, size_t len, int urgent,
	    const char *case_ref);
/* bench_submit - one MLA request to TO with one document DOC of LEN
 * bytes, URGENT or not, on CONN, retrying "busy" answers until DEADLINE
 * (monotonic ns); 0 and ID, or the comity error code of the last attempt
 * (COMITY_EAGAIN when out of time or interrupted while busy) */
int	bench_submit(comity_conn *conn, const char *to, const uint8_t *doc,
	    size_t len, int urgent, const char *case_ref, int64_t deadline,
	    char id[33]);

/* --- waiter.c: learning that a request is DELIVERED (idle) --- */

struct waiter;
/* waiter_open - a waiter on the daemon at SOCK: subscribed to its event
 * stream, or polling when it offers none; 0 or -1 (and why).  *W is set
 * in both cases: the caller closes it. */
int	waiter_open(struct waiter **w, const char *sock);
/* waiter_method - "watch" or "status_poll" */
const char *waiter_method(const struct waiter *);
/* waiter_delivered - wait until item ID is DELIVERED at the sender (LAST:
 * no other will be waited for), or DEADLINE (monotonic ns); 0 and the
 * daemon's submitted_at and delivered_at and the monotonic time we
 * learnt it, or -1 (and why) when it ended otherwise, a daemon of NET
 * exited, time ran out or we were interrupted */
int	waiter_delivered(struct waiter *, struct net *net, const char *id,
	    int last, int64_t deadline, int64_t *submitted_at,
	    int64_t *delivered_at, int64_t *seen_at);
/* waiter_close - end the watch, close and free; NULL is a no-op */
void	waiter_close(struct waiter *);

/* --- target.c: reference figures and targets (shared/TARGETS.md) --- */

/* target_note - keep the reference figures of SCENARIO's RESULT (its
 * medians, or its only run) for later scenarios */
void	target_note(struct bench *, const char *scenario, const json_t *result);
/* target_apply - add target, ratio, target_holds (and the reference they
 * use) to O, a result of SCENARIO, when this invocation measured that
 * reference; otherwise leave O alone */
void	target_apply(const struct bench *, const char *scenario, json_t *o);
/* target_reference - the "reference" line (critical_path_ms) once both
 * fsync and crypto have run, the first time only; caller owns it; NULL
 * when not (or no longer) due */
json_t	*target_reference(struct bench *);

/* --- scenarios --- */

/* bulk_run - N requests of SIZE bytes A->B as fast as --clients
 * connections submit them; throughput and latency from the daemon's own
 * state times (T1, T7) */
int	bulk_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* documents_run - bulk_run() with 1 MiB documents (T4, T7) */
int	documents_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* links_run - one daemon holding N idle authenticated links from as many
 * authorities of the benchmark's: its RSS (T6; no standard network) */
int	links_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* restart_run - a sender with N requests queued for a counterpart that
 * is down, stopped and started again: start -> accepting submits and
 * dialling, beside the same with a small queue (T5; no standard
 * network) */
int	restart_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* crypto_run - CMS rates per core and the crypto ceiling (no network) */
int	crypto_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* fsync_run - latency of one fsync'd LMDB commit of one put in the run's
 * directory (no network) */
int	fsync_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/*
 * commit_probe - a scratch LMDB environment of the benchmark's own, in
 * the run's directory beside the daemons' stores, opened with LMDB's
 * default flags, sized for COUNT puts: commit_probe_one() times one
 * durable commit of one small put (begin -> the return of the fsync'd
 * commit), as fsync_run() does.
 * open: 0 or -1 (and why); close removes the files (unless --keep) and
 * is safe after a failed open.
 */
struct commit_probe {
	MDB_env			*env;
	MDB_dbi			 dbi;
	unsigned long long	 puts;
	int			 made;
	char			 dir[PATH_MAX];
};
int	commit_probe_open(struct bench *, const char *name, long long count,
	    struct commit_probe *);
int	commit_probe_one(struct commit_probe *, int64_t *ns);
void	commit_probe_close(struct bench *, struct commit_probe *);

/* idle_run - one request at a time: submit -> DELIVERED latency (T2) */
int	idle_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);
/* urgent_run - one urgent request every 100 ms while bulk traffic
 * saturates the link: urgent submit -> DELIVERED latency (T3) */
int	urgent_run(struct bench *, struct net *, const struct run_args *,
	    json_t *out);

#endif /* COMITY_BENCH_H */
