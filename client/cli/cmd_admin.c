/*
 * cmd_admin.c - comity peers, directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "office.h"
#include "output.h"
#include "wire.h"

static int
no_args(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int				c;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'h')
			return cli_help();
		return cli_usage();
	}
	if (optind != argc)
		return cli_usage();
	return -1;
}

static json_t	*peer_json_base(const struct comity_peer *);

/* HEAD as hex, or null when SEQ is 0 (none held) */
static json_t *
head_json(uint64_t seq, const uint8_t head[32])
{
	char	out[65];

	if (seq == 0)
		return json_null();
	wire_hex(head, 32, out);
	return json_string(out);
}

static json_t *
peer_json(const struct comity_peer *p)
{
	json_t	*o;

	o = peer_json_base(p);
	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "skew_warning",
	    json_boolean(p->clock_skew_warning)) != 0 ||
	    json_object_set_new(o, "their_head_seq", p->held_seq != 0 ?
	    json_integer((json_int_t)p->held_seq) : json_null()) != 0 ||
	    json_object_set_new(o, "their_head_hash",
	    head_json(p->held_seq, p->held_head)) != 0 ||
	    json_object_set_new(o, "their_head_at", out_jtime(p->held_at_ns)) ||
	    json_object_set_new(o, "our_head_seq_held", p->given_seq != 0 ?
	    json_integer((json_int_t)p->given_seq) : json_null()) != 0 ||
	    json_object_set_new(o, "our_head_hash_held",
	    head_json(p->given_seq, p->given_head)) != 0 ||
	    json_object_set_new(o, "our_head_at", out_jtime(p->given_at_ns))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
peer_json_base(const struct comity_peer *p)
{
	return json_pack("{s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:o, s:o, s:o, "
	    "s:o, s:o, s:I, s:o, s:o}",
	    "id", out_jstr(p->id),
	    "name", out_jstr(p->name),
	    "endpoint", out_jstr(p->endpoint),
	    "up", p->up,
	    "queued", (json_int_t)p->queued,
	    "queued_urgent", (json_int_t)p->queued_urgent,
	    "in_flight", (json_int_t)p->in_flight,
	    "oldest_queued_at", out_jtime(p->oldest_queued_ns),
	    "oldest_urgent_at", out_jtime(p->oldest_urgent_ns),
	    "oldest_normal_at", out_jtime(p->oldest_normal_ns),
	    "last_contact_at", out_jtime(p->last_contact_ns),
	    "last_delivery_at", out_jtime(p->last_delivery_ns),
	    "clock_skew_ms", (json_int_t)(p->clock_skew_ns / 1000000),
	    "next_attempt_at", out_jtime(p->next_attempt_ns),
	    "last_error", p->last_error[0] != '\0' ? out_jstr(p->last_error) :
	    json_null());
}

/* the age of AT, or WHAT when it is 0 */
static void
age_or(int64_t now, int64_t at, const char *what, char *buf, size_t len)
{
	if (at == 0)
		snprintf(buf, len, "%s", what);
	else
		out_age(now - at, buf, len);
}

/* "urgent-age/normal-age" of the oldest waiting item of each class */
static void
oldest(const struct comity_peer *p, int64_t now, char *buf, size_t len)
{
	char	u[32], n[32];

	age_or(now, p->oldest_urgent_ns, "-", u, sizeof(u));
	age_or(now, p->oldest_normal_ns, "-", n, sizeof(n));
	snprintf(buf, len, "%s/%s", u, n);
}

static void
peer_row(const struct comity_peer *p, int64_t now)
{
	char	old[80], last[32], xchg[32], skew[32], q[48], heads[48];
	char	ours[24], theirs[24];
	char	*id = out_escape(p->id, 1);
	size_t	sl;

	oldest(p, now, old, sizeof(old));
	age_or(now, p->last_contact_ns, "never", last, sizeof(last));
	age_or(now, p->last_delivery_ns, "never", xchg, sizeof(xchg));
	out_age(p->clock_skew_ns, skew, sizeof(skew));
	if (p->clock_skew_warning && (sl = strlen(skew)) + 1 < sizeof(skew)) {
		skew[sl] = '!';		/* past [limits] skew_warning */
		skew[sl + 1] = '\0';
	}
	if (p->given_seq != 0)
		snprintf(ours, sizeof(ours), "%llu",
		    (unsigned long long)p->given_seq);
	else
		snprintf(ours, sizeof(ours), "-");
	if (p->held_seq != 0)
		snprintf(theirs, sizeof(theirs), "%llu",
		    (unsigned long long)p->held_seq);
	else
		snprintf(theirs, sizeof(theirs), "-");
	snprintf(heads, sizeof(heads), "%s/%s", ours, theirs);
	snprintf(q, sizeof(q), "%llu/%llu", (unsigned long long)p->queued,
	    (unsigned long long)p->queued_urgent);
	/* a link with items waiting is never shown as simply "up" */
	printf("%-14s  %-7s  %-11s  %-9llu  %-17s  %-9s  %-9s  %-8s  %-13s  ",
	    id != NULL ? id : "?", !p->up ? "down" : p->queued > 0 ?
	    "up-busy" : "up", q, (unsigned long long)p->in_flight, old, xchg,
	    last, p->up || p->last_contact_ns != 0 ? skew : "-", heads);
	out_text(stdout, p->last_error);
	putchar('\n');
	free(id);
}

int
cmd_peers(int argc, char **argv)
{
	struct comity_peer	*peers = NULL;
	comity_conn		*conn;
	size_t			 i, n;
	int64_t			 now = cli_now_ns();
	int			 rc, st;

	if ((st = no_args(argc, argv)) != -1)
		return st;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	rc = comity_peers(conn, &peers, &n);
	if (rc != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	if (!cli.json && n > 0)
		printf("%-14s  %-7s  %-11s  %-9s  %-17s  %-9s  %-9s  %-8s  "
		    "%-13s  %s\n", "PEER", "LINK", "QUEUED/URG", "IN-FLIGHT",
		    "OLDEST URG/NORMAL", "EXCHANGED", "CONTACT", "SKEW",
		    "HEADS US/THEM", "LAST ERROR");
	for (i = 0; i < n && st == EX_OK; i++) {
		if (!cli.json)
			peer_row(&peers[i], now);
		else if (out_line(stdout, peer_json(&peers[i])) != 0)
			st = cli_fail(EX_SOFTWARE, "cannot encode a peer");
	}
	comity_free(peers);
	return st;
}

static json_t *
str_array(const char **v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, out_jstr(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The counterpart's local time now and whether its office is open. */
static json_t *
dir_json(const struct comity_dir_entry *e, int64_t now)
{
	struct office	o;
	char		lt[40], off[16];

	office_eval(e->timezone, e->hours, now, &o);
	if (o.zone_known) {
		office_fmt_rfc3339(&o.local, o.gmtoff, lt, sizeof(lt));
		office_fmt_offset(o.gmtoff, off, sizeof(off));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s:b}",
	    "id", out_jstr(e->id),
	    "name", out_jstr(e->name),
	    "endpoint", out_jstr(e->endpoint),
	    "accepts", str_array(e->accepts, e->naccepts),
	    "languages", str_array(e->languages, e->nlanguages),
	    "timezone", out_jstr(e->timezone),
	    "local_time", o.zone_known ? json_string(lt) : json_null(),
	    "utc_offset", o.zone_known ? json_string(off) : json_null(),
	    "hours", out_jstr(e->hours),
	    "office", o.state == OFFICE_OPEN ? json_string("open") :
	    o.state == OFFICE_CLOSED ? json_string("closed") : json_null(),
	    "urgent", out_jstr(e->urgent),
	    "pin", e->pin[0] != '\0' ? out_jstr(e->pin) : json_null(),
	    "self", e->self);
}

static void
print_list(const char **v, size_t n, const char *none)
{
	size_t	i;

	if (n == 0)
		fputs(none, stdout);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", stdout);
		out_text(stdout, v[i]);
	}
}

static void
dir_text(const struct comity_dir_entry *e, int64_t now)
{
	struct office	o;
	char		lt[40];

	office_eval(e->timezone, e->hours, now, &o);
	out_text(stdout, e->id);
	fputs(e->self ? "  (this authority)\n" : "\n", stdout);
	printf("  %-10s ", "name");
	out_text(stdout, e->name);
	printf("\n  %-10s ", "endpoint");
	out_text(stdout, e->endpoint);
	printf("\n  %-10s ", "accepts");
	print_list(e->accepts, e->naccepts, "any type");
	printf("\n  %-10s ", "languages");
	print_list(e->languages, e->nlanguages, "-");
	printf("\n  %-10s ", "timezone");
	out_text(stdout, e->timezone[0] != '\0' ? e->timezone : "-");
	printf("\n  %-10s ", "local time");
	if (o.zone_known) {
		office_fmt_short(&o.local, o.gmtoff, lt, sizeof(lt));
		fputs(lt, stdout);
	} else if (e->timezone[0] != '\0') {
		fputs("unknown: ", stdout);
		out_text(stdout, o.why);
	} else
		fputs("-", stdout);
	printf("\n  %-10s ", "hours");
	out_text(stdout, e->hours[0] != '\0' ? e->hours : "-");
	if (o.state == OFFICE_OPEN)
		fputs(" (open now)", stdout);
	else if (o.state == OFFICE_CLOSED)
		fputs(" (closed now)", stdout);
	else if (e->hours[0] != '\0' && o.zone_known) {
		fputs(" (", stdout);
		out_text(stdout, o.why);
		fputs(")", stdout);
	}
	printf("\n  %-10s ", "urgent");
	out_text(stdout, e->urgent[0] != '\0' ? e->urgent : "-");
	putchar('\n');
}

int
cmd_directory(int argc, char **argv)
{
	struct comity_dir_entry	*ents = NULL;
	comity_conn		*conn;
	size_t			 i, n;
	int64_t			 now = cli_now_ns();
	int			 rc, st;

	if ((st = no_args(argc, argv)) != -1)
		return st;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_directory(conn, &ents, &n)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	for (i = 0; i < n && st == EX_OK; i++) {
		if (!cli.json)
			dir_text(&ents[i], now);
		else if (out_line(stdout, dir_json(&ents[i], now)) != 0)
			st = cli_fail(EX_SOFTWARE, "cannot encode an entry");
	}
	comity_free(ents);
	return st;
}
