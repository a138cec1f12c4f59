/*
 * output.c - text and JSON rendering, time formats (see output.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

#define NS_PER_S	INT64_C(1000000000)

/* Length of the well-formed UTF-8 sequence at P (RFC 3629), 0 if none. */
static size_t
utf8_seq(const unsigned char *p)
{
	unsigned char	c = p[0];
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	/* a NUL stops this loop, so we never read past the string */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

char *
out_escape(const char *s, int controls)
{
	static const char	 hexd[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)(s != NULL ? s : "");
	size_t			 len = strlen((const char *)p), n;
	char			*out, *o;

	if (len > (SIZE_MAX - 1) / 4)
		return NULL;
	if ((out = malloc(len * 4 + 1)) == NULL)
		return NULL;
	for (o = out; *p != '\0'; p += n) {
		n = utf8_seq(p);
		if (n == 0 || (controls && n == 1 && (*p < 0x20 || *p == 0x7f))) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hexd[*p >> 4];
			*o++ = hexd[*p & 15];
			n = 1;
			continue;
		}
		memcpy(o, p, n);
		o += n;
	}
	*o = '\0';
	return out;
}

json_t *
out_jstr(const char *s)
{
	char	*e = out_escape(s, 0);
	json_t	*j;

	if (e == NULL)
		return NULL;
	j = json_string(e);
	free(e);
	return j;
}

/* fmt_time - NS as RFC 3339 UTC with DIGITS (3 or 9) of fraction */
static void
fmt_time(int64_t ns, char *buf, size_t len, int digits)
{
	struct tm	tm;
	time_t		secs;
	int64_t		s, frac;
	size_t		n;

	s = ns / NS_PER_S;
	frac = ns % NS_PER_S;
	if (frac < 0) {
		s--;
		frac += NS_PER_S;
	}
	secs = (time_t)s;
	if (gmtime_r(&secs, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "%" PRId64, ns);
		return;
	}
	snprintf(buf + n, len - n, ".%0*dZ", digits,
	    (int)(digits == 3 ? frac / 1000000 : frac));
}

void
out_time(int64_t ns, char buf[OUT_TIME_LEN])
{
	if (ns == 0)
		snprintf(buf, OUT_TIME_LEN, "-");
	else
		fmt_time(ns, buf, OUT_TIME_LEN, 3);
}

json_t *
out_jtime(int64_t ns)
{
	char	buf[OUT_TIME_LEN];

	if (ns == 0)
		return json_null();
	out_time(ns, buf);
	return json_string(buf);
}

void
out_age(int64_t ns, char *buf, size_t len)
{
	const char	*sign = "";
	uint64_t	 v, s;

	if (ns < 0) {
		sign = "-";
		v = (uint64_t)0 - (uint64_t)ns;
	} else
		v = (uint64_t)ns;
	s = v / 1000000000u;
	if (s == 0)
		snprintf(buf, len, "%s%" PRIu64 "ms", sign, v / 1000000u);
	else if (s < 60)
		snprintf(buf, len, "%s%" PRIu64 "s", sign, s);
	else if (s < 3600)
		snprintf(buf, len, "%s%" PRIu64 "m%" PRIu64 "s", sign, s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m", sign,
		    s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%s%" PRIu64 "d%" PRIu64 "h", sign,
		    s / 86400, s % 86400 / 3600);
}

int
out_parse_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char	*unit;
		int64_t		 ns;
	} units[] = {
		{ "ms", INT64_C(1000000) },
		{ "s", NS_PER_S },
		{ "m", 60 * NS_PER_S },
		{ "h", 3600 * NS_PER_S },
		{ "d", 86400 * NS_PER_S },
		{ "w", 7 * 86400 * NS_PER_S },
	};
	int64_t		 total = 0;
	uint64_t	 v;
	size_t		 i, ul;
	char		*end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0)
			return -1;
		if (*end == '\0' && total == 0) {
			i = 1;		/* a bare number: seconds */
			ul = 0;
		} else {
			for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
				ul = strlen(units[i].unit);
				if (strncmp(end, units[i].unit, ul) == 0 &&
				    !isalpha((unsigned char)end[ul]))
					break;
			}
			if (i == sizeof(units) / sizeof(units[0]))
				return -1;
		}
		if (v > (uint64_t)(INT64_MAX / units[i].ns) ||
		    (int64_t)v * units[i].ns > INT64_MAX - total)
			return -1;
		total += (int64_t)v * units[i].ns;
		s = end + ul;
	}
	*ns = total;
	return 0;
}

/* "Z", "+HH:MM" or "-HH:MM" at P: offset in seconds east of UTC */
static int
parse_offset(const char *p, long *off)
{
	int	h, m;

	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		*off = 0;
		return 0;
	}
	if ((p[0] != '+' && p[0] != '-') || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || p[3] != ':' ||
	    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]) ||
	    p[6] != '\0')
		return -1;
	h = (p[1] - '0') * 10 + (p[2] - '0');
	m = (p[4] - '0') * 10 + (p[5] - '0');
	if (h > 23 || m > 59)
		return -1;
	*off = (h * 3600L + m * 60L) * (p[0] == '-' ? -1 : 1);
	return 0;
}

int
out_parse_time(const char *s, int64_t now, int64_t *ns)
{
	struct tm	 tm;
	const char	*p;
	int64_t		 d, frac = 0, scale = 100000000;
	long		 off = 0;
	time_t		 secs;

	if (s == NULL)
		return -1;
	if (out_parse_duration(s, &d) == 0) {
		if (d > now)
			return -1;
		*ns = now - d;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (!isdigit((unsigned char)s[0]) ||
	    (p = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		if (!isdigit((unsigned char)p[1]) ||
		    (p = strptime(p + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*p == '.') {
			if (!isdigit((unsigned char)*++p))
				return -1;
			for (; isdigit((unsigned char)*p); p++) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
		if (parse_offset(p, &off) != 0)
			return -1;
	}
	if ((secs = timegm(&tm)) == (time_t)-1 || secs < 0 ||
	    secs > INT64_MAX / NS_PER_S - 86400)
		return -1;
	*ns = ((int64_t)secs - off) * NS_PER_S + frac;
	return 0;
}

/* Names cannot hold a NUL: the library's decoder refuses such strings. */
const char *
out_name_problem(const char *name)
{
	if (name[0] == '\0')
		return "is empty";
	if (strlen(name) > 255)
		return "is longer than 255 bytes";
	if (strchr(name, '/') != NULL)
		return "contains '/'";
	if (strcmp(name, "..") == 0)
		return "is \"..\"";
	if (name[0] == '.')
		return "starts with '.'";
	return NULL;
}

/* ------------------------------------------------------------ JSON */

static void
set(json_t *o, const char *key, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*bad = 1;
}

json_t *
out_item_json(const struct comity_item *it)
{
	json_t	*o = json_object();
	int	 bad = 0;

	if (o == NULL)
		return NULL;
	set(o, "id", json_string(it->id), &bad);
	set(o, "box", json_string(it->box == COMITY_BOX_IN ? "in" : "out"),
	    &bad);
	set(o, "state", json_string(comity_state_name(it->state)), &bad);
	set(o, "from", out_jstr(it->from), &bad);
	set(o, "to", out_jstr(it->to), &bad);
	set(o, "priority", json_string(it->priority == COMITY_PRIORITY_URGENT ?
	    "urgent" : "normal"), &bad);
	set(o, "type", json_string(comity_type_name(it->type)), &bad);
	set(o, "case", out_jstr(it->case_ref), &bad);
	set(o, "submitted_at", out_jtime(it->submitted_at), &bad);
	set(o, "sent_at", out_jtime(it->sent_at), &bad);
	set(o, "delivered_at", out_jtime(it->delivered_at), &bad);
	set(o, "received_at", out_jtime(it->received_at), &bad);
	set(o, "retrieved_at", out_jtime(it->retrieved_at), &bad);
	set(o, "rejected_at", out_jtime(it->rejected_at), &bad);
	set(o, "expired_at", out_jtime(it->expired_at), &bad);
	set(o, "cancelled_at", out_jtime(it->cancelled_at), &bad);
	set(o, "expires_at", out_jtime(it->expires_at), &bad);
	set(o, "reason", it->reason[0] != '\0' ? out_jstr(it->reason) :
	    json_null(), &bad);
	set(o, "delivered_receipt", json_boolean(it->has_delivered_receipt),
	    &bad);
	set(o, "retrieved_receipt", json_boolean(it->has_retrieved_receipt),
	    &bad);
	set(o, "seq", json_integer((json_int_t)it->seq), &bad);
	set(o, "body_size", json_integer((json_int_t)it->body_size), &bad);
	set(o, "documents", json_integer((json_int_t)it->documents), &bad);
	set(o, "kind", json_string(it->kind == COMITY_KIND_NOTICE ? "notice" :
	    "request"), &bad);
	set(o, "in_reply_to", it->in_reply_to[0] != '\0' ?
	    json_string(it->in_reply_to) : json_null(), &bad);
	set(o, "warned_at", out_jtime(it->warned_at), &bad);
	set(o, "escalated_at", out_jtime(it->escalated_at), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
out_request_json(const struct comity_request *rq, const char *const *sha256)
{
	json_t	*o = json_object(), *docs = json_array(), *d;
	size_t	 i;
	int	 bad = 0;

	if (o == NULL || docs == NULL) {
		json_decref(o);
		json_decref(docs);
		return NULL;
	}
	set(o, "id", json_string(rq->id), &bad);
	set(o, "from", out_jstr(rq->from), &bad);
	set(o, "to", out_jstr(rq->to), &bad);
	set(o, "priority", json_string(rq->priority == COMITY_PRIORITY_URGENT ?
	    "urgent" : "normal"), &bad);
	set(o, "type", json_string(comity_type_name(rq->type)), &bad);
	set(o, "basis", out_jstr(rq->basis), &bad);
	set(o, "case", out_jstr(rq->case_ref), &bad);
	set(o, "their_ref", out_jstr(rq->their_ref), &bad);
	set(o, "reply_to", rq->reply_to[0] != '\0' ?
	    json_string(rq->reply_to) : json_null(), &bad);
	set(o, "lang", out_jstr(rq->lang), &bad);
	set(o, "subject", out_jstr(rq->subject), &bad);
	set(o, "created_at", out_jtime(rq->created_at), &bad);
	set(o, "expires_at", out_jtime(rq->expires_at), &bad);
	for (i = 0; i < rq->ndocs && !bad; i++) {
		if ((d = json_object()) == NULL) {
			bad = 1;
			break;
		}
		set(d, "name", out_jstr(rq->docs[i].name), &bad);
		set(d, "media_type", out_jstr(rq->docs[i].media_type), &bad);
		set(d, "size", json_integer((json_int_t)rq->docs[i].len), &bad);
		if (sha256 != NULL)
			set(d, "sha256", json_string(sha256[i]), &bad);
		if (json_array_append_new(docs, d) != 0)
			bad = 1;
	}
	set(o, "documents", docs, &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
out_line(FILE *fp, json_t *obj)
{
	char	*s;
	int	 rc = -1;

	if (obj == NULL)
		return -1;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return -1;
	if (fprintf(fp, "%s\n", s) >= 0)
		rc = 0;
	free(s);
	return rc;
}

/* ------------------------------------------------------------ text */

void
out_text(FILE *fp, const char *s)
{
	char	*e = out_escape(s, 1);

	fputs(e != NULL ? e : "?", fp);
	free(e);
}

void
out_item_header(FILE *fp, int box)
{
	fprintf(fp, "%-32s  %-9s  %-6s  %-12s  %-12s  %-24s  %s\n", "ID",
	    "STATE", "PRIO", "TYPE", box == COMITY_BOX_IN ? "FROM" : "TO",
	    box == COMITY_BOX_IN ? "RECEIVED" : "SUBMITTED", "CASE");
}

void
out_item_row(FILE *fp, const struct comity_item *it)
{
	char	 t[OUT_TIME_LEN];
	char	*peer = out_escape(it->box == COMITY_BOX_IN ? it->from : it->to,
		    1);
	char	*cs = out_escape(it->case_ref, 1);
	int	 notice = it->kind == COMITY_KIND_NOTICE;

	out_time(it->box == COMITY_BOX_IN ? it->received_at : it->submitted_at,
	    t);
	/* a notice shows as such, with the request it is about */
	fprintf(fp, "%-32s  %-9s  %-6s  %-12s  %-12s  %-24s  %s%s\n", it->id,
	    comity_state_name(it->state), it->priority ==
	    COMITY_PRIORITY_URGENT ? "urgent" : "normal",
	    notice ? "notice" : comity_type_name(it->type),
	    peer != NULL ? peer : "?", t, notice ? "re " : "",
	    notice ? it->in_reply_to : cs != NULL ? cs : "?");
	free(peer);
	free(cs);
}

static void
field_time(FILE *fp, const char *name, int64_t ns)
{
	char	t[OUT_TIME_LEN];

	if (ns == 0)
		return;
	out_time(ns, t);
	fprintf(fp, "%-12s %s\n", name, t);
}

static void
field_str(FILE *fp, const char *name, const char *s)
{
	fprintf(fp, "%-12s ", name);
	out_text(fp, s);
	fputc('\n', fp);
}

void
out_item_text(FILE *fp, const struct comity_item *it)
{
	char	t[OUT_TIME_LEN];

	fprintf(fp, "%-12s %s\n", "id", it->id);
	fprintf(fp, "%-12s %s\n", "box", it->box == COMITY_BOX_IN ? "inbox" :
	    "outbox");
	fprintf(fp, "%-12s %s\n", "state", comity_state_name(it->state));
	field_str(fp, "from", it->from);
	field_str(fp, "to", it->to);
	fprintf(fp, "%-12s %s\n", "priority", it->priority ==
	    COMITY_PRIORITY_URGENT ? "urgent" : "normal");
	fprintf(fp, "%-12s %s\n", "type", comity_type_name(it->type));
	if (it->kind == COMITY_KIND_NOTICE)
		fprintf(fp, "%-12s %s\n", "kind", "notice");
	if (it->in_reply_to[0] != '\0')
		fprintf(fp, "%-12s %s\n", "in reply to", it->in_reply_to);
	field_str(fp, "case", it->case_ref);
	field_time(fp, "submitted", it->submitted_at);
	field_time(fp, "sent", it->sent_at);
	field_time(fp, "delivered", it->delivered_at);
	field_time(fp, "received", it->received_at);
	field_time(fp, "retrieved", it->retrieved_at);
	field_time(fp, "rejected", it->rejected_at);
	field_time(fp, "expired", it->expired_at);
	field_time(fp, "cancelled", it->cancelled_at);
	field_time(fp, "warned", it->warned_at);
	field_time(fp, "escalated", it->escalated_at);
	if (it->expires_at != 0) {
		out_time(it->expires_at, t);
		fprintf(fp, "%-12s %s\n", "expires", t);
	}
	if (it->reason[0] != '\0')
		field_str(fp, "reason", it->reason);
	fprintf(fp, "%-12s %s%s%s\n", "receipts",
	    it->has_delivered_receipt ? (it->state == COMITY_STATE_REJECTED ?
	    "rejected" : "delivered") : "",
	    it->has_delivered_receipt && it->has_retrieved_receipt ? ", " : "",
	    it->has_retrieved_receipt ? "retrieved" :
	    (it->has_delivered_receipt ? "" : "none"));
	fprintf(fp, "%-12s %" PRIu32 " (%" PRIu64 " bytes sealed)\n",
	    "documents", it->documents, it->body_size);
}

void
out_time_ns(int64_t ns, char buf[OUT_TIME_NS_LEN])
{
	fmt_time(ns, buf, OUT_TIME_NS_LEN, 9);
}

void
out_duration(int64_t ns, char *buf, size_t len)
{
	const char	*sign = "";
	uint64_t	 v;

	if (ns < 0) {
		sign = "-";
		v = (uint64_t)0 - (uint64_t)ns;
	} else
		v = (uint64_t)ns;
	if (v < 1000000u)
		snprintf(buf, len, "%s%" PRIu64 "us", sign, v / 1000u);
	else if (v < 1000000000u)
		snprintf(buf, len, "%s%" PRIu64 ".%03" PRIu64 "ms", sign,
		    v / 1000000u, v / 1000u % 1000u);
	else if (v < 60 * (uint64_t)1000000000u)
		snprintf(buf, len, "%s%" PRIu64 ".%03" PRIu64 "s", sign,
		    v / 1000000000u, v / 1000000u % 1000u);
	else
		out_age(ns, buf, len);
}
