/*
 * main.c - comity: the command-line client of comityd.
 *
 * Global options, the command table, sysexits codes and one-line errors.
 * The commands themselves are in cmd_*.c and speak to the daemon only
 * through libcomity.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "output.h"

struct cli	cli;

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*help;
} commands[] = {
	{ "submit", cmd_submit,
	  "submit --to ID --type TYPE [--urgent] [--case REF] [--basis TEXT]\n"
	  "              [--lang TAG] [--subject TEXT] [--their-ref REF]\n"
	  "              [--reply-to ID] [--expires DURATION] [--key KEY] FILE...\n"
	  "  submit --batch FILE",
	  "Queue a request with FILE... as its documents and print its id.\n"
	  "TYPE is mla, extradition, confiscation, transfer,\n"
	  "joint_investigation (jit) or other.  --expires takes a duration\n"
	  "(30m, 2h, 1d); --key makes a repeated submit return the same id.\n"
	  "--batch FILE (- for standard input): queue up to 256 requests in\n"
	  "one round trip, committed together.  FILE holds one JSON object\n"
	  "per line with the options' fields: to, type, urgent (true or\n"
	  "false), case, basis, lang, subject, their_ref, reply_to, expires,\n"
	  "key, and files (a list of paths); to, type and files are required.\n"
	  "The file is checked whole before anything is sent.  Each request\n"
	  "succeeds or fails on its own; one line per request is printed, in\n"
	  "order: its id, or - when it failed, with the reason on stderr\n"
	  "(--json: {line, id, existed, error}).  The exit status is that of\n"
	  "the first failure." },
	{ "status", cmd_status, "status ID [--timeline]",
	  "Show the state of a request, its per-state times and receipts.\n"
	  "--timeline: every event of the request on both sides, as far as\n"
	  "known (our audit records; the counterpart's signed receipts), with\n"
	  "the time between steps." },
	{ "outbox", cmd_outbox, "outbox [--urgent] [--state S] [--since T]",
	  "List requests we sent.  T is RFC 3339, a date, or a duration\n"
	  "(2h = since two hours ago); S is a state such as QUEUED." },
	{ "inbox", cmd_inbox, "inbox [--urgent] [--state S] [--since T]",
	  "List requests we received (see outbox for the options)." },
	{ "fetch", cmd_fetch, "fetch ID --out DIR",
	  "Write each document of a received request under its submitted\n"
	  "file name in DIR, and request.json.  Existing files are never\n"
	  "overwritten.  Use `comity ack ID` once they are safely stored." },
	{ "ack", cmd_ack, "ack ID",
	  "Mark a received request RETRIEVED; a signed RETRIEVED receipt\n"
	  "goes back to the sender." },
	{ "cancel", cmd_cancel, "cancel ID",
	  "Withdraw a request that is not delivered yet." },
	{ "watch", cmd_watch, "watch [--urgent]",
	  "Print events as they happen, one line each, until interrupted:\n"
	  "arrivals, receipts and other state changes, warnings about\n"
	  "urgent requests.  --urgent: only events about urgent requests.\n"
	  "A watcher that reads too slowly is dropped (exit status 75)." },
	{ "receipt", cmd_receipt,
	  "receipt ID [--kind delivered|retrieved] --out FILE.p7s",
	  "Export a signed receipt (DER CMS), which `openssl cms -verify\n"
	  "-inform DER -CAfile ca.pem` checks.  --out - writes to stdout." },
	{ "export", cmd_export, "export ID --out FILE.p7m",
	  "Export a request sealed as it travelled (DER CMS\n"
	  "AuthEnvelopedData).  The recipient opens it with `openssl cms\n"
	  "-decrypt` and its key, then `openssl cms -verify`.  --out -\n"
	  "writes to stdout." },
	{ "peers", cmd_peers, "peers",
	  "Link state, queue depth, oldest waiting item, last contact and\n"
	  "clock skew for each counterpart." },
	{ "directory", cmd_directory, "directory",
	  "The counterparts and what they accept." },
	{ "audit", cmd_audit,
	  "audit export [--since T] [--until T] [--id ID] [--format jsonl|csv]\n"
	  "  audit verify [--store DIR] [--ca FILE]\n"
	  "    [--witness-seq S --witness-hash H | --witness F.p7s]\n"
	  "  audit checkpoint [--out F.p7s]",
	  "export: stream the daemon's audit trail in seq order, one record a\n"
	  "line: JSON Lines (the default), or CSV (RFC 4180, with a header).\n"
	  "Times are RFC 3339 UTC with nanoseconds; each record carries\n"
	  "detail_sha256, prev_hash and hash, so the chain can be recomputed\n"
	  "from the export.  --since/--until T (RFC 3339, a date, or a\n"
	  "duration: 2h = two hours ago) keep records at or after / before T;\n"
	  "--id keeps those about one request.\n"
	  "verify: recompute the whole chain; prints \"audit chain intact: N\n"
	  "records, head seq S hash H\", or names the first edited, missing or\n"
	  "reordered record and exits 65.  --store DIR checks the store\n"
	  "directory itself, read-only, without the daemon (which may run).\n"
	  "--witness-seq/--witness-hash: a head held elsewhere (e.g. in a\n"
	  "receipt we issued) that the chain must contain; this catches\n"
	  "records removed from the end.  --witness F.p7s takes that head\n"
	  "from a receipt we issued or one of our checkpoints (signature\n"
	  "checked; against the CA in --ca FILE if given).  Each CHECKPOINT\n"
	  "record is checked against the chain.\n"
	  "checkpoint: have the daemon sign its audit head now; --out writes\n"
	  "the CMS SignedData (openssl cms -verify checks it)." },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const struct command	*current;

static void
usage_all(FILE *fp)
{
	size_t	i;

	fprintf(fp, "usage: comity [--socket PATH] [--json] COMMAND [ARGS]\n"
	    "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %s\n", commands[i].usage);
	fprintf(fp, "`comity COMMAND --help` describes a command.\n");
}

int
cli_fail(int status, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "comity: ");
	if (cli.cmd != NULL)
		fprintf(stderr, "%s: ", cli.cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int
cli_exit_code(int rc)
{
	switch (rc) {
	case COMITY_OK:
		return EX_OK;
	case COMITY_EINVAL:
	case COMITY_ECONFLICT:
	case COMITY_ESTATE:
	case COMITY_ETOOBIG:
	case COMITY_ECORRUPT:
	case COMITY_ECRYPTO:
	case COMITY_ETYPE:
	case COMITY_EEXPIRED:
		return EX_DATAERR;
	case COMITY_ENOMEM:
		return EX_OSERR;
	case COMITY_EIO:
		return EX_IOERR;
	case COMITY_ESTOREFULL:
	case COMITY_ETIMEDOUT:
	case COMITY_EAGAIN:
		return EX_TEMPFAIL;
	case COMITY_ENOTFOUND:
		return EX_NOINPUT;
	case COMITY_EPROTO:
		return EX_PROTOCOL;
	case COMITY_ECONNECT:
		return EX_UNAVAILABLE;
	case COMITY_EUNKNOWNPEER:
		return EX_NOHOST;
	case COMITY_EPERM:
		return EX_NOPERM;
	case COMITY_ECONFIG:
		return EX_CONFIG;
	default:
		return EX_SOFTWARE;
	}
}

int
cli_error(comity_conn *conn, int rc, const char *what)
{
	const char	*m = comity_errmsg(conn);
	char		 buf[600];
	size_t		 i;

	/* the daemon's reason may quote a counterpart: keep it one line */
	snprintf(buf, sizeof(buf), "%s", m[0] != '\0' ? m :
	    comity_strerror(rc));
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	if (what != NULL)
		return cli_fail(cli_exit_code(rc), "%s: %s", what, buf);
	return cli_fail(cli_exit_code(rc), "%s", buf);
}

int
cli_connect(comity_conn **conn)
{
	const char	*path = cli.socket;
	int		 rc, e;

	if (path == NULL && ((path = getenv("COMITY_SOCKET")) == NULL ||
	    path[0] == '\0'))
		path = COMITY_SOCKET_DEFAULT;
	rc = comity_connect(path, conn);
	if (rc == 0)
		return 0;
	e = errno;
	if (rc == COMITY_EPERM)
		return cli_fail(EX_NOPERM, "cannot connect to %s: %s (are you "
		    "in the socket's group?)", path, strerror(e));
	if (rc == COMITY_EINVAL)
		return cli_fail(EX_USAGE, "invalid socket path %s", path);
	if (rc == COMITY_ENOMEM)
		return cli_fail(EX_OSERR, "out of memory");
	return cli_fail(EX_UNAVAILABLE, "cannot connect to %s: %s (is comityd "
	    "running?)", path, strerror(e));
}

int
cli_usage(void)
{
	if (current != NULL)
		fprintf(stderr, "usage: comity [--socket PATH] [--json] %s\n",
		    current->usage);
	else
		usage_all(stderr);
	return EX_USAGE;
}

int
cli_help(void)
{
	printf("usage: comity [--socket PATH] [--json] %s\n\n%s\n",
	    current->usage, current->help);
	return EX_OK;
}

int
cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts)
{
	int	c;

	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == 'J') {
			cli.json = 1;
			continue;
		}
		if (c == '?' || c == ':') {
			if (optopt != 0 && optopt != '?')
				cli_fail(EX_USAGE, "bad option or missing "
				    "argument: -%c", optopt);
			else
				cli_fail(EX_USAGE, "bad option or missing "
				    "argument: %s", argv[optind - 1]);
			return '?';
		}
		return c;
	}
}

int
cli_id_arg(int argc, char **argv, const char **id)
{
	static const struct option	id_opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int				c;

	while ((c = cli_getopt(argc, argv, "h", id_opts)) != -1) {
		if (c == 'h')
			return cli_help();
		return cli_usage();
	}
	if (argc - optind != 1)
		return cli_usage();
	*id = argv[optind];
	return cli_id_ok(*id) ? -1 : EX_USAGE;
}

int
cli_id_ok(const char *id)
{
	size_t	i;

	for (i = 0; id[i] != '\0'; i++)
		if (!isxdigit((unsigned char)id[i]))
			break;
	if (i == 32 && id[i] == '\0')
		return 1;
	cli_fail(EX_USAGE, "invalid request id (32 hexadecimal digits "
	    "expected)");
	return 0;
}

int
cli_time_ok(const char *s, int64_t *ns, int after_epoch)
{
	if (out_parse_time(s, cli_now_ns(), ns) == 0 &&
	    (!after_epoch || *ns > 0))
		return 1;
	cli_fail(EX_USAGE, "bad time %s (RFC 3339, a date, or a duration "
	    "such as 2h)", s);
	return 0;
}

int64_t
cli_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t	i;
	int	c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli.socket = optarg;
			break;
		case 'J':
			cli.json = 1;
			break;
		case 'h':
			usage_all(stdout);
			return EX_OK;
		default:
			cli_fail(EX_USAGE, "bad option or missing argument: %s",
			    argv[optind - 1]);
			return cli_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage();
	if (strcmp(argv[0], "help") == 0) {
		if (argc < 2) {
			usage_all(stdout);
			return EX_OK;
		}
		argv++;
		argc--;
		for (i = 0; i < NCOMMANDS; i++)
			if (strcmp(argv[0], commands[i].name) == 0) {
				current = &commands[i];
				return cli_help();
			}
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == NCOMMANDS) {
		fprintf(stderr, "comity: unknown command: %s\n", argv[0]);
		return cli_usage();
	}
	current = &commands[i];
	cli.cmd = current->name;
	optind = 0;		/* glibc: start afresh on the command's args */
	c = current->fn(argc, argv);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_fail(EX_IOERR, "writing the output: %s", strerror(errno));
		if (c == EX_OK)
			c = EX_IOERR;
	}
	return c;
}
