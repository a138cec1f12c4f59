/*
 * cmd_watch.c - comity watch: events as they happen, one line each.
 *
 * Each line is written and flushed whole, with SIGINT and SIGTERM held
 * off meanwhile; those signals end the command with status 0 between two
 * lines, so a consumer never sees half an event.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

struct watch_state {
	sigset_t	 held;		/* SIGINT, SIGTERM */
	int		 failed;	/* 1: encoding, 2: writing */
};

static void
stop_handler(int sig)
{
	(void)sig;
	_exit(EX_OK);
}

static json_t *
event_json(const struct comity_event *ev)
{
	json_t	*o = ev->has_item ? out_item_json(&ev->item) : json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "kind",
	    json_string(comity_event_name(ev->kind))) != 0 ||
	    json_object_set_new(o, "at", out_jtime(ev->at)) != 0 ||
	    json_object_set_new(o, "detail", ev->detail[0] != '\0' ?
	    out_jstr(ev->detail) : json_null()) != 0 ||
	    json_object_set_new(o, "procedure", ev->procedure[0] != '\0' ?
	    out_jstr(ev->procedure) : json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* TIME  KIND  [ID  FROM -> TO  STATE  PRIO  TYPE  [case REF]]  [DETAIL]
 * [procedure: TEXT] */
static void
event_text(FILE *fp, const struct comity_event *ev)
{
	const struct comity_item	*it = &ev->item;
	char				 t[OUT_TIME_LEN];

	out_time(ev->at, t);
	fprintf(fp, "%s  %-10s", t, comity_event_name(ev->kind));
	if (ev->has_item) {
		fprintf(fp, "  %s  ", it->id);
		out_text(fp, it->from);
		fputs(" -> ", fp);
		out_text(fp, it->to);
		fprintf(fp, "  %s  %s  %s", comity_state_name(it->state),
		    it->priority == COMITY_PRIORITY_URGENT ? "urgent" : "normal",
		    comity_type_name(it->type));
		if (it->case_ref[0] != '\0') {
			fputs("  case ", fp);
			out_text(fp, it->case_ref);
		}
	}
	if (ev->detail[0] != '\0') {
		fputs("  ", fp);
		out_text(fp, ev->detail);
	}
	if (ev->procedure[0] != '\0') {
		fputs("  procedure: ", fp);
		out_text(fp, ev->procedure);
	}
	fputc('\n', fp);
}

static int
event_cb(const struct comity_event *ev, void *arg)
{
	struct watch_state	*ws = arg;
	sigset_t		 old;

	sigprocmask(SIG_BLOCK, &ws->held, &old);
	if (cli.json) {
		if (out_line(stdout, event_json(ev)) != 0 && !ferror(stdout))
			ws->failed = 1;
	} else
		event_text(stdout, ev);
	if (fflush(stdout) == EOF || ferror(stdout))
		ws->failed = 2;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ws->failed;
}

int
cmd_watch(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "urgent", no_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct watch_state	 ws;
	struct sigaction	 sa;
	comity_conn		*conn;
	int			 c, rc, st, urgent = 0;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'u':
			urgent = 1;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (optind != argc)
		return cli_usage();
	memset(&ws, 0, sizeof(ws));
	sigemptyset(&ws.held);
	sigaddset(&ws.held, SIGINT);
	sigaddset(&ws.held, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return cli_fail(EX_OSERR, "sigaction: %s", strerror(errno));
	if ((st = cli_connect(&conn)) != 0)
		return st;
	rc = comity_watch(conn, urgent, event_cb, &ws);
	if (ws.failed == 1)
		st = cli_fail(EX_SOFTWARE, "cannot encode an event");
	else if (ws.failed == 2)
		st = cli_fail(EX_IOERR, "writing the output: %s",
		    strerror(errno));
	else if (rc != 0)
		st = cli_error(conn, rc, NULL);
	comity_close(conn);
	return st;
}
