/*
 * hook.h - the [urgent] hook: an operator's executable run on urgent
 * events (SPEC §6), e.g. to page the duty officer.
 *
 * The hook is started without a shell (argv = { path }) in a session of
 * its own, with a working directory of "/", umask 077, default signal
 * dispositions and an empty signal mask, fds 0, 1 and 2 on /dev/null and
 * no other fd open.  Its environment holds PATH=/usr/bin:/bin and the
 * variables the caller names, nothing else: ids, peers, types, case
 * references, times, never the content of a request.  Values come from
 * counterparts, so control characters become '?' and a value is cut at
 * HOOK_VALUE_MAX bytes.
 *
 * Nothing here blocks: a hook that hangs is killed (its whole process
 * group) after [urgent] hook_timeout; children are reaped from a SIGCHLD
 * event; at most HOOK_RUNNING_MAX run at once, and a run beyond that is
 * skipped, not queued.  Every outcome (exit status, signal, time-out,
 * could not start, skipped) is logged and audited as URGENT_HOOK with the
 * item id and the peer.
 */
#ifndef COMITY_HOOK_H
#define COMITY_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-24T08:15:02.123Z" and its NUL */
#define HOOK_TIME_LEN	32

/* hook_init - watch SIGCHLD on cd->base; once, after the base exists */
void	hook_init(void);

/*
 * hook_check - PATH is something we would run: a regular file we may
 * execute, not writable by group or others.  Returns 0, or -1 with the
 * reason in err.
 */
int	hook_check(const char *path, char *err, size_t errlen);

/*
 * hook_run - run the configured hook, if any, for item ID (16 bytes, or
 * NULL) concerning PEER (or NULL).  WHY names the event in the log and
 * the audit record ("arrival", "undelivered", "escalation"; borrowed).
 * ENV is a NULL-terminated array of "NAME=value" strings (NAME is upper
 * case, digits and '_', at most HOOK_ENV_MAX of them), borrowed for the
 * call; the value is sanitised here.  Returns at once: the outcome is
 * reported when the hook ends.
 */
void	hook_run(const char *why, const uint8_t *id, const char *peer,
	    const char *const env[]);

/*
 * hook_arrival - hook_run for an urgent arrival: COMITY_ID (32 hex),
 * COMITY_FROM, COMITY_TYPE (lower-case type name), COMITY_CASE,
 * COMITY_PRIORITY=urgent and COMITY_RECEIVED_AT (RFC 3339 UTC, ms).
 */
void	hook_arrival(const uint8_t id[16], const char *from, int type,
	    const char *case_ref, int64_t received_ns);

/*
 * hook_env_entry - "NAME=value" as the hook gets it: a new string (caller
 * frees), its value sanitised and cut as described above, or NULL when
 * NAME is not [A-Z_][A-Z0-9_]* of at most HOOK_NAME_MAX bytes, or is PATH.
 * (hook_run uses it; exposed for tests.)
 */
char	*hook_env_entry(const char *kv);

/* hook_time - NS (UTC ns since the epoch) as "YYYY-MM-DDThh:mm:ss.mmmZ" */
void	hook_time(int64_t ns, char buf[HOOK_TIME_LEN]);

/* hook_running - hooks started and not reaped yet */
int	hook_running(void);

/*
 * hook_stop - at daemon stop, after the event loop: kill the process
 * group of every running hook, reap them (waiting HOOK_STOP_WAIT_MS at
 * most), report each as killed, and free the events.
 */
void	hook_stop(void);

#endif /* COMITY_HOOK_H */
