/*
 * net.c - the benchmark's network: temporary directory, demo PKI,
 * configurations on 127.0.0.1 ephemeral ports, comityd processes.
 *
 * The daemons are started by fork/exec, in their own process group (a
 * terminal's ^C reaches only us, and we stop them), with their stderr in
 * a log file beside their store, and stopped by pid with SIGTERM.  The
 * running network is registered so that an exit on any path stops it:
 * atexit() for returns and exit(), a first SIGINT/SIGTERM/SIGHUP sets
 * bench_interrupted so that every loop fails out through the same path, a
 * second one stops the daemons at once and exits.  A daemon also gets
 * SIGTERM if we die by SIGKILL (PR_SET_PDEATHSIG).  Several networks may
 * exist at once (NET_LIVE_MAX): every one is registered.
 *
 * The daemons start with the limit of open files we were started with,
 * whatever a scenario raised ours to: what a daemon needs beyond it is
 * its own business, as it would be under a supervisor.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifndef COMITY_BENCH_SOURCE_DIR
#define COMITY_BENCH_SOURCE_DIR	"."
#endif
#ifndef COMITY_BENCH_BUILD_DIR
#define COMITY_BENCH_BUILD_DIR	"build/default"
#endif

#define MKPKI_TIMEOUT_MS	120000
#define READY_TIMEOUT_MS	30000
#define STOP_TIMEOUT_MS		30000
#define POLL_MS			10
#define LOG_TAIL_LINES		15
#define UNIX_PATH_MAX		(sizeof(((struct sockaddr_un *)0)->sun_path))

/* The authorities of the standard network (ISO user-assigned codes). */
static const struct {
	const char	*id;
	const char	*role;
} net_auth[NET_MAX] = {
	{ "XA-SENDER", "sender" },
	{ "XB-RECEIVER", "receiver" },
};

volatile sig_atomic_t	 bench_interrupted;

/* What an exit on any path must clean up. */
static struct bench	*live_bench;
static struct net	*live_nets[NET_LIVE_MAX];

/* RLIMIT_NOFILE as we were started, given to the daemons. */
static struct rlimit	 start_nofile;
static int		 have_start_nofile;

/* Format into a PATH_MAX buffer; -1 (and why) when it does not fit. */
static int
pathf(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
pathf(char *buf, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		bench_log("path too long: %s...", buf);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ cleanup */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 &&
	    errno != ENOENT)
		bench_log("remove %s: %s", path, strerror(errno));
	return 0;
}

static void
rm_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Wait for PID up to MS milliseconds (less when INTERRUPTIBLE and we
 * are interrupted); 0 and *status when it exited. */
static int
wait_pid(pid_t pid, unsigned ms, int interruptible, int *status)
{
	unsigned	waited = 0;
	pid_t		r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return errno == ECHILD ? 0 : -1;
		if (waited >= ms || (interruptible && bench_interrupted))
			return -1;
		sleep_ms(POLL_MS);
		waited += POLL_MS;
	}
}

static int
daemon_stop(struct daemon *d)
{
	int	status = 0, rc = 0;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGTERM);
	if (wait_pid(d->pid, STOP_TIMEOUT_MS, 0, &status) == -1) {
		bench_log("%s (pid %ld) did not stop within %d s of SIGTERM: "
		    "killed", d->id, (long)d->pid, STOP_TIMEOUT_MS / 1000);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		rc = -1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bench_log("%s (pid %ld) stopped with status %d%s", d->id,
		    (long)d->pid, WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status), WIFSIGNALED(status) ?
		    " (signal)" : "");
		rc = -1;
	}
	d->pid = 0;
	return rc;
}

static int
net_register(struct net *net)
{
	size_t	i;

	for (i = 0; i < NET_LIVE_MAX; i++)
		if (live_nets[i] == NULL || live_nets[i] == net) {
			live_nets[i] = net;
			return 0;
		}
	bench_log("more than %d networks at once", NET_LIVE_MAX);
	return -1;
}

static void
net_unregister(struct net *net)
{
	size_t	i;

	for (i = 0; i < NET_LIVE_MAX; i++)
		if (live_nets[i] == net)
			live_nets[i] = NULL;
}

static void
cleanup_atexit(void)
{
	size_t	i, j;

	for (j = 0; j < NET_LIVE_MAX; j++) {
		if (live_nets[j] == NULL)
			continue;
		for (i = 0; i < live_nets[j]->n; i++)
			daemon_stop(&live_nets[j]->d[i]);
		live_nets[j] = NULL;
	}
	if (live_bench == NULL || live_bench->root[0] == '\0')
		return;
	if (live_bench->opts.keep)
		bench_log("kept %s", live_bench->root);
	else
		rm_tree(live_bench->root);
}

static void
signal_handler(int sig)
{
	size_t	i, j;

	if (!bench_interrupted) {
		bench_interrupted = 1;
		return;
	}
	/* a second signal: no more waiting (only async-signal-safe calls) */
	for (j = 0; j < NET_LIVE_MAX; j++)
		if (live_nets[j] != NULL)
			for (i = 0; i < live_nets[j]->n; i++)
				if (live_nets[j]->d[i].pid > 0)
					kill(live_nets[j]->d[i].pid, SIGTERM);
	_exit(128 + sig);
}

static int
install_cleanup(struct bench *b)
{
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction	 sa;
	size_t			 i;

	live_bench = b;
	if (atexit(cleanup_atexit) != 0) {
		bench_log("atexit failed");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signal_handler;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: sleeps and waits return early to see the flag */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1) {
			bench_log("sigaction: %s", strerror(errno));
			return -1;
		}
	/* a closed stdout fails the write, not the process (and cleanup) */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ------------------------------------------------------------ tools */

static int
tool_path(char *out, const char *env, const char *def, const char *rel)
{
	const char	*dir = getenv(env);

	if (dir == NULL || dir[0] == '\0')
		dir = def;
	if (pathf(out, "%s/%s", dir, rel) == -1)
		return -1;
	if (access(out, X_OK) == -1) {
		bench_log("%s: %s (set %s)", out, strerror(errno), env);
		return -1;
	}
	return 0;
}

/* Child side of a fork: stdin from /dev/null, stdout and stderr to
 * OUTFD, own process group, SIGTERM if we die, the limit of open files
 * we were started with; then exec.  Only async-signal-safe calls. */
static void
child_exec(char *const argv[], int outfd)
{
	struct sigaction	sa;
	int			nullfd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (have_start_nofile)
		setrlimit(RLIMIT_NOFILE, &start_nofile);
	if ((nullfd = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(nullfd, STDIN_FILENO) == -1 ||
	    dup2(outfd, STDOUT_FILENO) == -1 ||
	    dup2(outfd, STDERR_FILENO) == -1)
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

/* Start ARGV with its output appended to LOG; the pid, or -1. */
static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t	pid;
	int	fd;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1) {
		bench_log("%s: %s", log, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child_exec(argv, fd);
	if (pid == -1)
		bench_log("fork: %s", strerror(errno));
	close(fd);
	return pid;
}

/* Print the last lines of a log file to stderr. */
static void
log_tail(const char *path)
{
	char	 line[1024], ring[LOG_TAIL_LINES][1024];
	size_t	 n = 0, i;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		memcpy(ring[n++ % LOG_TAIL_LINES], line, sizeof(line));
	fclose(f);
	bench_log("last lines of %s:", path);
	for (i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++)
		fprintf(stderr, "    %s", ring[i % LOG_TAIL_LINES]);
}

static int
make_pki(struct bench *b)
{
	char	 log[PATH_MAX];
	char	*argv[NET_MAX + 3];
	size_t	 i;
	pid_t	 pid;
	int	 status;

	if (pathf(b->pki, "%s/pki", b->root) == -1 ||
	    pathf(log, "%s/mkpki.log", b->root) == -1)
		return -1;
	argv[0] = b->mkpki;
	argv[1] = b->pki;
	for (i = 0; i < NET_MAX; i++)
		argv[2 + i] = (char *)net_auth[i].id;
	argv[2 + NET_MAX] = NULL;
	if ((pid = spawn(argv, log)) == -1)
		return -1;
	if (wait_pid(pid, MKPKI_TIMEOUT_MS, 1, &status) == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!bench_interrupted)
			bench_log("mkpki did not finish in %d s",
			    MKPKI_TIMEOUT_MS / 1000);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bench_log("mkpki failed");
		log_tail(log);
		return -1;
	}
	return 0;
}

int
net_setup(struct bench *b)
{
	const char	*tmp = getenv("TMPDIR");

	if (install_cleanup(b) == -1)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &start_nofile) == 0)
		have_start_nofile = 1;
	if (tool_path(b->comityd, "COMITY_BUILD_DIR", COMITY_BENCH_BUILD_DIR,
	    "daemon/comityd") == -1 ||
	    tool_path(b->mkpki, "COMITY_SOURCE_DIR", COMITY_BENCH_SOURCE_DIR,
	    "certs/mkpki") == -1)
		return -1;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (pathf(b->root, "%s/comity-bench.XXXXXX", tmp) == -1)
		return -1;
	if (mkdtemp(b->root) == NULL) {
		bench_log("mkdtemp %s: %s", b->root, strerror(errno));
		b->root[0] = '\0';
		return -1;
	}
	bench_log("working in %s", b->root);
	return make_pki(b);
}

int
net_nofile(unsigned long need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		bench_log("getrlimit: %s", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		bench_log("need %lu open files, the hard limit is %llu "
		    "(ulimit -Hn)", need, (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		bench_log("setrlimit %lu open files: %s", need,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ configs */

/* N distinct free TCP ports on 127.0.0.1: bound together, then released
 * (another process could take one before the daemon binds it). */
static int
free_ports(int *ports, size_t n)
{
	struct sockaddr_in	sin;
	socklen_t		len;
	int			fds[NET_MAX], rc = 0;
	size_t			i, opened = 0;

	for (i = 0; i < n && rc == 0; i++) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sin);
		if ((fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			rc = -1;
			break;
		}
		opened++;
		if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fds[i], (struct sockaddr *)&sin, &len) == -1)
			rc = -1;
		else
			ports[i] = ntohs(sin.sin_port);
	}
	if (rc == -1)
		bench_log("cannot find a free port: %s", strerror(errno));
	for (i = 0; i < opened; i++)
		close(fds[i]);
	return rc;
}

static int
write_directory(const struct bench *b, const struct net *net)
{
	FILE	*f;
	size_t	 i;
	int	 rc = 0;

	if ((f = fopen(net->directory, "w")) == NULL) {
		bench_log("%s: %s", net->directory, strerror(errno));
		return -1;
	}
	for (i = 0; i < net->n; i++)
		fprintf(f, "[%s]\nname = benchmark %s\n"
		    "endpoint = 127.0.0.1:%d\ncert = %s/%s.pem\n"
		    "accepts = mla, extradition, confiscation, transfer, "
		    "joint_investigation, other\n\n", net->d[i].id,
		    net->d[i].role, net->d[i].port, b->pki, net->d[i].id);
	if (ferror(f))
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	if (rc == -1)
		bench_log("write %s failed", net->directory);
	return rc;
}

static int
write_conf(const struct bench *b, const struct net *net,
    const struct daemon *d, const struct net_spec *spec)
{
	FILE	*f;
	int	 rc = 0;

	if ((f = fopen(d->conf, "w")) == NULL) {
		bench_log("%s: %s", d->conf, strerror(errno));
		return -1;
	}
	fprintf(f, "[authority]\nid = %s\ncert = %s/%s.pem\n"
	    "key = %s/%s.key\nca = %s/ca.pem\ndirectory = %s\n\n",
	    d->id, b->pki, d->id, b->pki, d->id, b->pki, net->directory);
	fprintf(f, "[listen]\naddress = 127.0.0.1:%d\n\n", d->port);
	fprintf(f, "[store]\npath = %s/store\n", d->dir);
	if (spec != NULL && spec->map_size > 0)
		fprintf(f, "map_size = %llu\n", spec->map_size);
	fprintf(f, "\n[client]\nsocket = %s\n\n", d->sock);
	if (spec != NULL && spec->limits != NULL)
		fprintf(f, "[limits]\n%s\n", spec->limits);
	fprintf(f, "[log]\nlevel = info\n");
	if (ferror(f))
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	if (rc == -1)
		bench_log("write %s failed", d->conf);
	return rc;
}

static int
daemon_prepare(const struct net *net, struct daemon *d, size_t i, int port)
{
	memset(d, 0, sizeof(*d));
	d->role = net_auth[i].role;
	snprintf(d->id, sizeof(d->id), "%s", net_auth[i].id);
	d->port = port;
	if (pathf(d->dir, "%s/%s", net->dir, d->id) == -1 ||
	    pathf(d->conf, "%s/comityd.conf", d->dir) == -1 ||
	    pathf(d->sock, "%s/comity.sock", d->dir) == -1 ||
	    pathf(d->log, "%s/comityd.log", d->dir) == -1)
		return -1;
	if (strlen(d->sock) >= UNIX_PATH_MAX) {
		bench_log("socket path %s is too long for a Unix socket "
		    "(set TMPDIR to a shorter directory)", d->sock);
		return -1;
	}
	if (mkdir(d->dir, 0700) == -1) {
		bench_log("mkdir %s: %s", d->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
net_create(struct bench *b, struct net *net, const char *name,
    const struct net_spec *spec)
{
	int	ports[NET_MAX];
	size_t	i;

	memset(net, 0, sizeof(*net));
	if (net_register(net) == -1)
		return -1;
	if (pathf(net->dir, "%s/%s", b->root, name) == -1 ||
	    pathf(net->directory, "%s/directory.conf", net->dir) == -1) {
		net->dir[0] = '\0';
		return -1;
	}
	if (mkdir(net->dir, 0700) == -1) {
		bench_log("mkdir %s: %s", net->dir, strerror(errno));
		net->dir[0] = '\0';	/* not ours to remove */
		return -1;
	}
	if (free_ports(ports, NET_MAX) == -1)
		return -1;
	for (i = 0; i < NET_MAX; i++) {
		if (daemon_prepare(net, &net->d[i], i, ports[i]) == -1)
			return -1;
		if (spec != NULL && spec->start != 0 &&
		    (spec->start & (1u << i)) == 0) {
			net->d[i].stub = 1;
			if (spec->stub_port > 0)
				net->d[i].port = spec->stub_port;
		}
		net->n++;
	}
	if (write_directory(b, net) == -1)
		return -1;
	for (i = 0; i < net->n; i++)
		if (!net->d[i].stub &&
		    write_conf(b, net, &net->d[i], spec) == -1)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ daemons */

static int
daemon_exited(struct daemon *d)
{
	int	status;

	if (d->pid <= 0 || waitpid(d->pid, &status, WNOHANG) != d->pid)
		return 0;
	bench_log("%s (pid %ld) exited with status %d", d->id, (long)d->pid,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	d->pid = 0;
	log_tail(d->log);
	return 1;
}

/*
 * Ready: the local API answers a request, so the event loop runs and
 * both the socket and the TCP listener are bound.  The request is the
 * status of an item that does not exist: its answer is small whatever
 * the store and the directory hold.
 */
static int
daemon_ready(struct daemon *d)
{
	static const char	 none[] = "00000000000000000000000000000000";
	struct comity_item	*it = NULL;
	comity_conn		*c;
	unsigned		 waited;
	int			 rc;

	for (waited = 0; waited < READY_TIMEOUT_MS; waited += POLL_MS) {
		if (bench_interrupted || daemon_exited(d))
			return -1;
		if (comity_connect(d->sock, &c) == 0) {
			rc = comity_status(c, none, &it);
			comity_free(it);
			it = NULL;
			comity_close(c);
			if (rc == 0 || rc == COMITY_ENOTFOUND)
				return 0;
		}
		sleep_ms(POLL_MS);
	}
	bench_log("%s not ready after %d s", d->id, READY_TIMEOUT_MS / 1000);
	log_tail(d->log);
	return -1;
}

int
net_spawn(struct bench *b, struct net *net, size_t i)
{
	struct daemon	*d = &net->d[i];
	char		*argv[] = { b->comityd, (char *)"--config", d->conf,
			    NULL };

	if (d->stub || d->pid > 0) {
		bench_log("%s is %s", d->id, d->stub ? "not to be started" :
		    "already running");
		return -1;
	}
	if ((d->pid = spawn(argv, d->log)) == -1) {
		d->pid = 0;
		return -1;
	}
	return 0;
}

int
net_start(struct bench *b, struct net *net, size_t i)
{
	if (net_spawn(b, net, i) == -1)
		return -1;
	if (daemon_ready(&net->d[i]) == -1) {
		daemon_stop(&net->d[i]);
		return -1;
	}
	return 0;
}

int
net_stop(struct net *net, size_t i)
{
	return daemon_stop(&net->d[i]);
}

int
net_up(struct bench *b, struct net *net, const char *scenario,
    unsigned run)
{
	char	name[PATH_MAX];
	size_t	i;

	snprintf(name, sizeof(name), "%s-%u", scenario, run);
	if (net_create(b, net, name, NULL) == -1) {
		net_down(b, net);
		return -1;
	}
	/* the receiver first, so the sender's first dial finds it */
	for (i = net->n; i-- > 0;)
		if (net_start(b, net, i) == -1) {
			net_down(b, net);
			return -1;
		}
	return 0;
}

int
net_check(struct net *net)
{
	size_t	i;
	int	rc = 0;

	for (i = 0; i < net->n; i++)
		if (daemon_exited(&net->d[i]))
			rc = -1;
	return rc;
}

/* A "Name:  N kB" line of /proc/PID/status, in KiB; -1 if absent. */
static long
proc_status_kib(pid_t pid, const char *name)
{
	char	 path[64], line[256];
	size_t	 len = strlen(name);
	long	 kib = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			if (sscanf(line + len + 1, "%ld kB", &kib) != 1)
				kib = -1;
			break;
		}
	fclose(f);
	return kib;
}

long
net_daemon_kib(const struct daemon *d, const char *field)
{
	long	kib;

	if (d->pid <= 0 || (kib = proc_status_kib(d->pid, field)) < 0) {
		bench_log("cannot read %s of %s", field, d->id);
		return -1;
	}
	return kib;
}

json_t *
net_rss(const struct net *net, const char *field)
{
	json_t	*o = json_object();
	size_t	 i;
	long	 kib;

	if (o == NULL)
		return NULL;
	for (i = 0; i < net->n; i++) {
		if (net->d[i].stub)
			continue;
		if ((kib = net_daemon_kib(&net->d[i], field)) < 0) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, net->d[i].role, json_integer(kib));
	}
	return o;
}

/* utime and stime (fields 14 and 15) of a /proc stat file, in ticks;
 * -1 if unreadable.  The command name may hold spaces and parentheses:
 * the fields are counted from the last ')'. */
static int
proc_stat_ticks(const char *path, unsigned long long *user,
    unsigned long long *sys)
{
	char	 buf[1024], *p;
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after ") ": state(3) ... utime(14) stime(15) */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %*d %*d "
	    "%*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", user, sys) != 2)
		return -1;
	return 0;
}

int
net_cpu(const struct net *net, struct net_cpu *c)
{
	unsigned long long	user, sys, loop_user, loop_sys;
	char			path[96];
	size_t			i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < net->n; i++) {
		const struct daemon *d = &net->d[i];

		if (d->stub || d->pid <= 0)
			continue;
		/* the thread first: read after it, the process has counted
		 * at least as much, and the workers' share is never < 0 */
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat",
		    (long)d->pid, (long)d->pid);
		if (proc_stat_ticks(path, &loop_user, &loop_sys) == -1)
			goto fail;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)d->pid);
		if (proc_stat_ticks(path, &user, &sys) == -1)
			goto fail;
		c->d[i].all = user + sys;
		c->d[i].sys = sys;
		c->d[i].loop = loop_user + loop_sys;
		c->d[i].pid = d->pid;
	}
	return 0;
fail:
	bench_log("cannot read the CPU times of %s", net->d[i].id);
	return -1;
}

json_t *
net_cpu_per_msg(const struct net *net, const struct net_cpu *from,
    const struct net_cpu *to, size_t msgs)
{
	json_t	*o = json_object(), *d;
	double	 tick = (double)sysconf(_SC_CLK_TCK), all, loop, sys;
	size_t	 i;

	if (o == NULL || tick <= 0 || msgs == 0) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < net->n; i++) {
		const struct net_cpu_daemon *a = &from->d[i], *b = &to->d[i];

		/* a daemon started again meanwhile counts from 0 */
		if (a->pid == 0 || a->pid != b->pid || b->all < a->all ||
		    b->sys < a->sys || b->loop < a->loop)
			continue;
		all = (double)(b->all - a->all);
		loop = (double)(b->loop - a->loop);
		sys = (double)(b->sys - a->sys);
		/* the two readings of a daemon are not quite at once: the
		 * loop may have gained a tick on the process in between */
		if (loop > all)
			loop = all;
		if ((d = json_object()) == NULL) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(d, "loop", json_real(stats_round(loop *
		    1000.0 / tick / (double)msgs, 3)));
		json_object_set_new(d, "workers", json_real(stats_round(
		    (all - loop) * 1000.0 / tick / (double)msgs, 3)));
		json_object_set_new(d, "kernel_share", json_real(stats_round(
		    all > 0 ? sys / all : 0, 3)));
		json_object_set_new(o, net->d[i].role, d);
	}
	return o;
}

/* The daemons' peak RSS, and the anonymous part of their RSS now (the
 * rest is mostly pages of the store's memory map, file pages). */
int
net_rss_add(const struct net *net, json_t *o)
{
	json_t	*peak, *anon;

	if ((peak = net_rss(net, "VmHWM")) == NULL)
		return -1;
	json_object_set_new(o, "rss_peak_kib", peak);
	if ((anon = net_rss(net, "RssAnon")) == NULL)
		return -1;
	json_object_set_new(o, "rss_anon_kib", anon);
	return 0;
}

int
net_down(struct bench *b, struct net *net)
{
	size_t	i;
	int	rc = 0;

	for (i = 0; i < net->n; i++)
		if (daemon_stop(&net->d[i]) == -1)
			rc = -1;
	if (rc == -1)
		for (i = 0; i < net->n; i++)
			if (!net->d[i].stub)
				log_tail(net->d[i].log);
	net_unregister(net);
	if (!b->opts.keep)
		rm_tree(net->dir);
	net->dir[0] = '\0';
	return rc;
}
