/*
 * cli.h - what the comity commands share: global options, the connection,
 * error reporting with sysexits codes.
 *
 * Every command is `int cmd_NAME(int argc, char **argv)` with argv[0] the
 * command name; it returns an exit status from sysexits.h (EX_OK on
 * success) and reports a failure as one line on stderr:
 * "comity: <command>: <reason>".
 */
#ifndef COMITY_CLI_H
#define COMITY_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "comity.h"

struct cli {
	const char	*socket;	/* --socket, NULL = library default */
	int		 json;		/* --json */
	const char	*cmd;		/* the command being run */
};
extern struct cli	cli;

/* cli_fail - print "comity: CMD: reason" and return STATUS */
int	cli_fail(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* cli_error - report library error RC (with the daemon's reason when
 * CONN has one) and return its sysexits code */
int	cli_error(comity_conn *conn, int rc, const char *what);
/* cli_exit_code - sysexits code for a COMITY_E* code */
int	cli_exit_code(int rc);
/* cli_connect - connect to the daemon; 0, or the exit status after
 * reporting the failure */
int	cli_connect(comity_conn **conn);
/* cli_usage - print the command's usage to stderr, return EX_USAGE */
int	cli_usage(void);
/* cli_help - print the command's help to stdout, return EX_OK */
int	cli_help(void);

/*
 * cli_getopt - getopt_long over a command's arguments, handling the
 * options every command accepts (--json, --help).  Returns the option
 * character, -1 at the end, 'h' after --help (the caller returns
 * cli_help()), '?' for a bad option (the caller returns cli_usage()).
 */
int	cli_getopt(int argc, char **argv, const char *shortopts,
	    const struct option *longopts);
/*
 * cli_id_arg - parse "CMD ID" with only the common options: sets *id and
 * returns -1 to go on, or an exit status.
 */
int	cli_id_arg(int argc, char **argv, const char **id);
/* cli_id_ok - ID is 32 hex digits; otherwise says so and returns 0 */
int	cli_id_ok(const char *id);
/* cli_time_ok - S as a time (out_parse_time: RFC 3339, a date, or a
 * duration before now; after the epoch if AFTER_EPOCH) into *ns;
 * otherwise says so and returns 0 */
int	cli_time_ok(const char *s, int64_t *ns, int after_epoch);
/* cli_now_ns - the current time, ns since the epoch */
int64_t	cli_now_ns(void);

int	cmd_submit(int, char **);
int	cmd_status(int, char **);
int	cmd_outbox(int, char **);
int	cmd_inbox(int, char **);
int	cmd_fetch(int, char **);
int	cmd_ack(int, char **);
int	cmd_cancel(int, char **);
int	cmd_receipt(int, char **);
int	cmd_export(int, char **);
int	cmd_peers(int, char **);
int	cmd_directory(int, char **);
int	cmd_watch(int, char **);
int	cmd_audit(int, char **);
/* status_timeline - `status ID --timeline` (timeline.c) */
int	status_timeline(const char *id);

#endif /* COMITY_CLI_H */
