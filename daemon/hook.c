/*
 * hook.c - the [urgent] hook runner (see hook.h).
 *
 * fork and exec, with every signal blocked across the fork so that no
 * handler of the daemon runs in the child; between the two the child
 * makes async-signal-safe calls only and touches nothing of the daemon
 * (LMDB environment, OpenSSL, libevent).  It gets a new session (so a
 * process group of its own, which a time-out kills as a whole, and no
 * controlling terminal), every signal at its default and none blocked,
 * "/" as its directory, umask 077 and /dev/null on 0, 1 and 2; every
 * other fd is closed, since not every fd of the daemon's libraries is
 * close-on-exec.  (Not posix_spawn: glibc's leaves its two internal
 * signals ignored in the child, and exec keeps them so.)  A close-on-exec
 * pipe brings an exec failure back to the parent, which waits for
 * nothing longer than the child's open, chdir and exec.
 *
 * The hook's output goes to /dev/null: if it went to our stderr, a hook
 * printing a counterpart's case reference could forge log lines.  A hook
 * that wants a trace writes one itself (logger(1)).
 *
 * Reaping: a SIGCHLD event looks at each running hook with
 * waitid(WNOWAIT); an exited one is still a zombie then, holding its pid
 * and so its process group id, so what it left running in its group can
 * be killed without any risk of signalling a process that reused the
 * number.  Then it is reaped and its outcome reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "bounds.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "hook.h"
#include "log.h"
#include "queue.h"
#include "wire.h"
#include "xmalloc.h"

#define HOOK_PATH_ENV	"PATH=/usr/bin:/bin"
#define HOOK_WHY_MAX	24
#define HOOK_DETAIL_MAX	512

struct hook_proc {
	pid_t		 pid;		/* 0 = free slot; also the pgid */
	int		 has_id;
	uint8_t		 id[ENVELOPE_ID_LEN];
	char		 peer[ID_MAX + 1];
	char		 why[HOOK_WHY_MAX];
	uint64_t	 started_ms;	/* mono_ms() */
	uint64_t	 timeout_ms;	/* hook_timeout when started */
	int		 timed_out;	/* killed by the timer */
	int		 stopping;	/* killed because the daemon stops */
	struct event	*timer;
};

static struct hook_proc	 procs[HOOK_RUNNING_MAX];
static int		 nrunning;
static struct event	*ev_chld;

/* ------------------------------------------------------------ helpers */

void
hook_time(int64_t ns, char buf[HOOK_TIME_LEN])
{
	struct tm	tm;
	time_t		secs;
	int64_t		s = ns / 1000000000, frac = ns % 1000000000;
	size_t		n;

	if (frac < 0) {
		s--;
		frac += 1000000000;
	}
	secs = (time_t)s;
	if (gmtime_r(&secs, &tm) == NULL ||
	    (n = strftime(buf, HOOK_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, HOOK_TIME_LEN, "-");
		return;
	}
	snprintf(buf + n, HOOK_TIME_LEN - n, ".%03dZ", (int)(frac / 1000000));
}

/* subject - "<32 hex>" or "-" for the head of a log line */
static const char *
subject(const struct hook_proc *p, char buf[33])
{
	if (!p->has_id)
		return "-";
	wire_id_hex(p->id, buf);
	return buf;
}

/* name_ok - an environment variable name we hand out: [A-Z_][A-Z0-9_]* */
static int
name_ok(const char *s, size_t len)
{
	if (len == 0 || len > HOOK_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * In the value, C0 controls, DEL and the UTF-8 encodings of C1 controls
 * (U+0080..U+009F, which some terminals obey) become '?'; a value longer
 * than HOOK_VALUE_MAX bytes is cut, not in the middle of a UTF-8 sequence.
 */
char *
hook_env_entry(const char *kv)
{
	const unsigned char	*v;
	const char		*eq;
	char			*out;
	size_t			 nlen, n = 0;

	if ((eq = strchr(kv, '=')) == NULL)
		return NULL;
	nlen = (size_t)(eq - kv);
	if (!name_ok(kv, nlen) || (nlen == 4 && memcmp(kv, "PATH", 4) == 0))
		return NULL;
	out = xmalloc(nlen + 1 + HOOK_VALUE_MAX + 1);
	memcpy(out, kv, nlen + 1);
	for (v = (const unsigned char *)eq + 1; *v != '\0' &&
	    n < HOOK_VALUE_MAX; v++) {
		if (*v < 0x20 || *v == 0x7f)
			out[nlen + 1 + n++] = '?';
		else if (*v == 0xc2 && v[1] >= 0x80 && v[1] <= 0x9f) {
			out[nlen + 1 + n++] = '?';
			v++;
		} else
			out[nlen + 1 + n++] = (char)*v;
	}
	if (*v != '\0' && (*v & 0xc0) == 0x80) {
		/* cut inside a sequence: drop its beginning too */
		while (n > 0 && ((unsigned char)out[nlen + n] & 0xc0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)out[nlen + n] & 0xc0) == 0xc0)
			n--;
	}
	out[nlen + 1 + n] = '\0';
	return out;
}

/*
 * env_build - ENVP (HOOK_ENV_MAX + 2 slots) = PATH, then a sanitised copy
 * of each of ENV's variables; a bad or repeated name is left out with a
 * log line (the caller's mistake, which must not stop the hook).
 */
static void
env_build(const char *hexid, const char *const env[], char **envp)
{
	size_t	n = 0;

	envp[n++] = (char *)HOOK_PATH_ENV;
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		char	*e;
		size_t	 nlen;
		int	 dup = 0;

		if (n == HOOK_ENV_MAX + 1) {
			log_error("%s hook: more than %d variables, the rest "
			    "left out", hexid, HOOK_ENV_MAX);
			break;
		}
		if ((e = hook_env_entry(env[i])) == NULL) {
			log_error("%s hook: bad variable name, left out",
			    hexid);
			continue;
		}
		nlen = (size_t)(strchr(e, '=') - e) + 1;
		for (size_t j = 1; j < n && !dup; j++)
			dup = strncmp(envp[j], e, nlen) == 0;
		if (dup) {
			log_error("%s hook: %.*s given twice, left out", hexid,
			    (int)nlen - 1, e);
			free(e);
			continue;
		}
		envp[n++] = e;
	}
	envp[n] = NULL;
}

static void
env_free(char **envp)
{
	/* envp[0] is the static PATH */
	for (size_t i = 1; envp[i] != NULL; i++)
		free(envp[i]);
}

/* report - log and audit one outcome of a run of the hook */
static void
report(int warn, const char *hexid, const uint8_t *id, const char *peer,
    const char *what)
{
	if (warn)
		log_warnx("%s hook %s", hexid, what);
	else
		log_info("%s hook %s", hexid, what);
	queue_audit(AUDIT_URGENT_HOOK, id, peer != NULL && peer[0] != '\0' ?
	    peer : NULL, what);
}

/* ------------------------------------------------------------ children */

static void
proc_release(struct hook_proc *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	memset(p, 0, sizeof(*p));
	nrunning--;
}

/*
 * finished - P's process has been reaped with STATUS (or is LOST: no
 * status to be had): report it
 */
static void
finished(struct hook_proc *p, int status, int lost)
{
	char		 h[33], what[HOOK_DETAIL_MAX];
	uint64_t	 ms = mono_ms() - p->started_ms;
	int		 warn = 1;

	if (p->stopping)
		snprintf(what, sizeof(what), "killed why=%s pid=%d: daemon "
		    "stopping", p->why, (int)p->pid);
	else if (p->timed_out)
		snprintf(what, sizeof(what), "timed out why=%s pid=%d "
		    "timeout=%llums duration=%llums: killed", p->why,
		    (int)p->pid, (unsigned long long)p->timeout_ms,
		    (unsigned long long)ms);
	else if (lost)
		snprintf(what, sizeof(what), "failed why=%s pid=%d: exit "
		    "status lost", p->why, (int)p->pid);
	else if (WIFEXITED(status)) {
		warn = WEXITSTATUS(status) != 0;
		snprintf(what, sizeof(what), "%s why=%s pid=%d exit=%d "
		    "duration=%llums", warn ? "failed" : "done", p->why,
		    (int)p->pid, WEXITSTATUS(status), (unsigned long long)ms);
	} else if (WIFSIGNALED(status))
		snprintf(what, sizeof(what), "failed why=%s pid=%d signal=%d "
		    "duration=%llums", p->why, (int)p->pid, WTERMSIG(status),
		    (unsigned long long)ms);
	else
		snprintf(what, sizeof(what), "failed why=%s pid=%d status=%d "
		    "duration=%llums", p->why, (int)p->pid, status,
		    (unsigned long long)ms);
	report(warn, subject(p, h), p->has_id ? p->id : NULL, p->peer, what);
	proc_release(p);
}

/* reap - collect every running hook that has ended */
static void
reap(void)
{
	siginfo_t	si;
	int		status = 0, rc;
	pid_t		r;

	for (size_t i = 0; i < HOOK_RUNNING_MAX; i++) {
		struct hook_proc *p = &procs[i];

		if (p->pid == 0)
			continue;
		memset(&si, 0, sizeof(si));
		while ((rc = waitid(P_PID, (id_t)p->pid, &si,
		    WEXITED | WNOHANG | WNOWAIT)) == -1 && errno == EINTR)
			;
		if (rc == -1) {
			/* not our child any more: nothing to wait for */
			log_warn("hook pid=%d: waitid", (int)p->pid);
			finished(p, 0, 1);
			continue;
		}
		if (si.si_pid == 0)
			continue;		/* still running */
		/* a zombie holds its pgid: the group id cannot be reused */
		if (kill(-p->pid, SIGKILL) == -1 && errno != ESRCH)
			log_warn("hook pid=%d: kill group", (int)p->pid);
		while ((r = waitpid(p->pid, &status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		finished(p, status, r != p->pid);
	}
}

static void
chld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	reap();
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook_proc	*p = arg;
	char			 h[33];

	(void)fd;
	(void)what;
	if (p->pid == 0)
		return;
	p->timed_out = 1;
	log_warnx("%s hook pid=%d still running after %llums: killing its "
	    "process group", subject(p, h), (int)p->pid,
	    (unsigned long long)p->timeout_ms);
	if (kill(-p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("hook pid=%d: kill group", (int)p->pid);
	/* SIGCHLD follows; reap now too in case it was already pending */
	reap();
}

/* ------------------------------------------------------------ API */

void
hook_init(void)
{
	if (ev_chld != NULL)
		return;
	ev_chld = evsignal_new(cd->base, SIGCHLD, chld_cb, NULL);
	if (ev_chld == NULL || evsignal_add(ev_chld, NULL) != 0)
		fatalx("cannot watch SIGCHLD");
}

int
hook_check(const char *path, char *err, size_t errlen)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "hook %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "hook %s: not a regular file", path);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "hook %s: writable by group or others "
		    "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (access(path, X_OK) == -1) {
		snprintf(err, errlen, "hook %s: not executable: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* What the child reports through the pipe when it cannot exec. */
struct spawn_err {
	int	stage;		/* index into spawn_stages */
	int	err;		/* errno */
};
static const char *const spawn_stages[] = {
	"open /dev/null", "chdir /", "setsid", "exec",
};

/*
 * child - between fork and exec: async-signal-safe calls only, nothing
 * of the daemon touched.  Fd 3 is the error pipe (close-on-exec); the
 * rest is described at the top.  Never returns.
 */
static void __attribute__((noreturn))
child(const char *path, char *const argv[], char *const envp[], int errw,
    int maxfd)
{
	struct sigaction	sa;
	struct spawn_err	e = { 0, 0 };
	sigset_t		none;
	int			fd;

	if (errw != 3) {
		if (dup2(errw, 3) == -1)
			_exit(127);
		fcntl(3, F_SETFD, FD_CLOEXEC);
	}
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		goto fail;
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		goto fail;
	if (close_range(4, ~0U, 0) == -1)
		for (fd = 4; fd < maxfd; fd++)
			close(fd);
	e.stage = 1;
	if (chdir("/") == -1)
		goto fail;
	e.stage = 2;
	if (setsid() == -1)
		goto fail;
	umask(077);
	/* every signal at its default: exec keeps what is ignored */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* KILL, STOP: EINVAL */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	e.stage = 3;
	execve(path, argv, envp);
fail:
	e.err = errno;
	while (write(3, &e, sizeof(e)) == -1 && errno == EINTR)
		;
	_exit(127);
}

/*
 * spawn - start PATH with ENVP as described at the top: 0 with *pid, or
 * -1 with the reason in err.  Returns once the child has exec'd (or
 * failed to), which takes no longer than an open, a chdir and an exec.
 */
static int
spawn(const char *path, char *const envp[], pid_t *pid, char *err,
    size_t errlen)
{
	struct spawn_err	 e;
	struct rlimit		 rl;
	sigset_t		 all, old;
	char			*argv[2];
	ssize_t			 n;
	int			 p[2], maxfd = 1024, saved;

	argv[0] = (char *)path;
	argv[1] = NULL;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		maxfd = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* no handler of ours may run in the child before it resets them */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	*pid = fork();
	if (*pid == 0)
		child(path, argv, envp, p[1], maxfd);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (*pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(saved));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	while ((n = read(p[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(p[0]);
	if (n == 0)
		return 0;		/* exec'd: the pipe closed */
	if (n == (ssize_t)sizeof(e) && e.stage >= 0 && e.stage <
	    (int)(sizeof(spawn_stages) / sizeof(spawn_stages[0])))
		snprintf(err, errlen, "%s: %s", spawn_stages[e.stage],
		    strerror(e.err));
	else
		snprintf(err, errlen, "the child failed before exec");
	/* it exits at once; not one of the table's, so reap it here */
	while (waitpid(*pid, NULL, 0) == -1 && errno == EINTR)
		;
	return -1;
}

void
hook_run(const char *why, const uint8_t *id, const char *peer,
    const char *const env[])
{
	struct hook_proc	*p = NULL;
	struct timeval		 tv;
	char			*envp[HOOK_ENV_MAX + 2];
	char			 h[33], what[HOOK_DETAIL_MAX], err[128];
	const char		*hexid = "-";
	pid_t			 pid;
	int			 rc;

	if (cd->conf->hook == NULL)
		return;
	if (id != NULL) {
		wire_id_hex(id, h);
		hexid = h;
	}
	/* at stop, what the pool and the store finish after hook_stop()
	 * would start hooks that no one times out, reaps or reports */
	if (cd->stopping) {
		snprintf(what, sizeof(what), "not run why=%s: daemon stopping",
		    why);
		report(1, hexid, id, peer, what);
		return;
	}
	for (size_t i = 0; i < HOOK_RUNNING_MAX && p == NULL; i++)
		if (procs[i].pid == 0)
			p = &procs[i];
	if (p == NULL) {
		snprintf(what, sizeof(what), "not run why=%s: %d hooks "
		    "running, the most allowed", why, HOOK_RUNNING_MAX);
		report(1, hexid, id, peer, what);
		return;
	}

	env_build(hexid, env, envp);
	rc = spawn(cd->conf->hook, envp, &pid, err, sizeof(err));
	env_free(envp);
	if (rc != 0) {
		snprintf(what, sizeof(what), "not started why=%s path=%s: %s",
		    why, cd->conf->hook, err);
		report(1, hexid, id, peer, what);
		return;
	}
	nrunning++;
	p->pid = pid;
	if (id != NULL) {
		p->has_id = 1;
		memcpy(p->id, id, ENVELOPE_ID_LEN);
	}
	snprintf(p->peer, sizeof(p->peer), "%s", peer != NULL ? peer : "");
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->started_ms = mono_ms();
	p->timeout_ms = cd->conf->hook_timeout_ms;
	tv.tv_sec = (time_t)(p->timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(p->timeout_ms % 1000) * 1000;
	if ((p->timer = evtimer_new(cd->base, timeout_cb, p)) == NULL ||
	    evtimer_add(p->timer, &tv) != 0)
		fatalx("cannot arm a hook timer");
	log_info("%s hook started why=%s pid=%d peer=%s", hexid, why,
	    (int)pid, p->peer[0] != '\0' ? p->peer : "-");
}

void
hook_arrival(const uint8_t id[16], const char *from, int type,
    const char *case_ref, int64_t received_ns)
{
	char	 h[33], t[HOOK_TIME_LEN];
	char	 kid[sizeof("COMITY_ID=") + 32], kfrom[16 + ID_MAX + 1];
	char	 ktype[16 + 64], kat[24 + HOOK_TIME_LEN];
	char	*kcase;
	size_t	 len;

	wire_id_hex(id, h);
	hook_time(received_ns, t);
	snprintf(kid, sizeof(kid), "COMITY_ID=%s", h);
	snprintf(kfrom, sizeof(kfrom), "COMITY_FROM=%s", from);
	snprintf(ktype, sizeof(ktype), "COMITY_TYPE=%s", type_name(type));
	snprintf(kat, sizeof(kat), "COMITY_RECEIVED_AT=%s", t);
	if (case_ref == NULL)
		case_ref = "";
	len = sizeof("COMITY_CASE=") + strnlen(case_ref, HOOK_VALUE_MAX);
	kcase = xmalloc(len);
	snprintf(kcase, len, "COMITY_CASE=%s", case_ref);
	{
		const char *env[] = { kid, kfrom, ktype, kcase,
		    "COMITY_PRIORITY=urgent", kat, NULL };

		hook_run("arrival", id, from, env);
	}
	free(kcase);
}

int
hook_running(void)
{
	return nrunning;
}

void
hook_stop(void)
{
	uint64_t	deadline;
	char		h[33];

	for (size_t i = 0; i < HOOK_RUNNING_MAX; i++) {
		if (procs[i].pid == 0)
			continue;
		procs[i].stopping = 1;
		if (kill(-procs[i].pid, SIGKILL) == -1 && errno != ESRCH)
			log_warn("hook pid=%d: kill group", (int)procs[i].pid);
	}
	/* SIGKILL is prompt unless a process sleeps in the kernel */
	deadline = mono_ms() + HOOK_STOP_WAIT_MS;
	while (nrunning > 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		reap();
		if (nrunning == 0 || mono_ms() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < HOOK_RUNNING_MAX; i++)
		if (procs[i].pid != 0) {
			log_warnx("%s hook pid=%d not gone %dms after SIGKILL; "
			    "left behind", subject(&procs[i], h),
			    (int)procs[i].pid, HOOK_STOP_WAIT_MS);
			proc_release(&procs[i]);
		}
	if (ev_chld != NULL) {
		event_free(ev_chld);
		ev_chld = NULL;
	}
}
