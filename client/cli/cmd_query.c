/*
 * cmd_query.c - comity status, outbox, inbox.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "output.h"

int
cmd_status(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "timeline", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct comity_item	*it = NULL;
	comity_conn		*conn;
	const char		*id;
	int			 c, rc, st, timeline = 0;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 't')
			timeline = 1;
		else if (c == 'h')
			return cli_help();
		else
			return cli_usage();
	}
	if (argc - optind != 1)
		return cli_usage();
	id = argv[optind];
	if (!cli_id_ok(id))
		return EX_USAGE;
	if (timeline)
		return status_timeline(id);
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_status(conn, id, &it)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	if (cli.json) {
		if (out_line(stdout, out_item_json(it)) != 0)
			st = cli_fail(EX_SOFTWARE, "cannot encode the item");
	} else
		out_item_text(stdout, it);
	comity_free(it);
	return st;
}

struct list_state {
	int	box;
	int	count;
	int	failed;
};

static int
list_cb(const struct comity_item *it, void *arg)
{
	struct list_state	*ls = arg;

	if (cli.json) {
		if (out_line(stdout, out_item_json(it)) != 0) {
			ls->failed = 1;
			return 1;
		}
	} else {
		if (ls->count == 0)
			out_item_header(stdout, ls->box);
		out_item_row(stdout, it);
	}
	ls->count++;
	return 0;
}

static int
list_box(int argc, char **argv, int box)
{
	static const struct option	opts[] = {
		{ "urgent", no_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct comity_list_opts	 lo;
	struct list_state	 ls;
	comity_conn		*conn;
	int			 c, rc, st;

	memset(&lo, 0, sizeof(lo));
	memset(&ls, 0, sizeof(ls));
	lo.box = ls.box = box;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'u':
			lo.urgent_only = 1;
			break;
		case 's':
			if ((lo.state = comity_state_from_name(optarg)) < 0)
				return cli_fail(EX_USAGE, "unknown state %s",
				    optarg);
			break;
		case 't':
			if (!cli_time_ok(optarg, &lo.since_ns, 0))
				return EX_USAGE;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (optind != argc)
		return cli_usage();
	if ((st = cli_connect(&conn)) != 0)
		return st;
	rc = comity_list(conn, &lo, list_cb, &ls);
	if (ls.failed)
		st = cli_fail(EX_SOFTWARE, "cannot encode an item");
	else if (rc != 0)
		st = cli_error(conn, rc, NULL);
	comity_close(conn);
	return st;
}

int
cmd_outbox(int argc, char **argv)
{
	return list_box(argc, argv, COMITY_BOX_OUT);
}

int
cmd_inbox(int argc, char **argv)
{
	return list_box(argc, argv, COMITY_BOX_IN);
}
