/*
 * hours.c - office hours grammar and evaluation (see hours.h).
 *
 * A small tokenizer (day names, hh:mm times, '-', ',', ';') and a
 * recursive-descent parser over it that sets the open minutes of the week
 * in a bitmap.  Whether a minute is open is then one bit test, and a span
 * past midnight or a day range over the week end needs no special case
 * at evaluation time.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hours.h"

enum tok_kind { T_END, T_DAY, T_TIME, T_DASH, T_COMMA, T_SEMI, T_BAD };

struct tok {
	enum tok_kind	 kind;
	int		 val;		/* day 0 = Monday; time in minutes */
	const char	*at;		/* where the token starts */
};

struct hparse {
	const char	*p;
	struct tok	 cur;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

static const char *const day_names[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday"
};

static void	herr(struct hparse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
herr(struct hparse *hp, const char *fmt, ...)
{
	va_list	ap;

	if (hp->failed)
		return;		/* the first error wins */
	hp->failed = 1;
	va_start(ap, fmt);
	vsnprintf(hp->err, hp->errlen, fmt, ap);
	va_end(ap);
}

/* A day name: the three-letter abbreviation or the whole English name. */
static int
day_lookup(const char *s, size_t len)
{
	int	i;

	for (i = 0; i < 7; i++)
		if ((len == 3 || len == strlen(day_names[i])) &&
		    strncasecmp(s, day_names[i], len) == 0)
			return i;
	return -1;
}

/* h:mm or hh:mm, 00:00 to 24:00; -1 if not a valid time */
static int
time_lookup(const char *s, size_t len)
{
	int	h, m;

	if (len == 4 && isdigit((unsigned char)s[0]) && s[1] == ':' &&
	    isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3])) {
		h = s[0] - '0';
		m = (s[2] - '0') * 10 + (s[3] - '0');
	} else if (len == 5 && isdigit((unsigned char)s[0]) &&
	    isdigit((unsigned char)s[1]) && s[2] == ':' &&
	    isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4])) {
		h = (s[0] - '0') * 10 + (s[1] - '0');
		m = (s[3] - '0') * 10 + (s[4] - '0');
	} else
		return -1;
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

/* Read the next token into hp->cur. */
static void
next(struct hparse *hp)
{
	const char	*s;
	size_t		 len;

	while (*hp->p == ' ' || *hp->p == '\t')
		hp->p++;
	s = hp->p;
	hp->cur.at = s;
	hp->cur.val = 0;
	switch (*s) {
	case '\0':
		hp->cur.kind = T_END;
		return;
	case '-':
		hp->cur.kind = T_DASH;
		hp->p++;
		return;
	case ',':
		hp->cur.kind = T_COMMA;
		hp->p++;
		return;
	case ';':
		hp->cur.kind = T_SEMI;
		hp->p++;
		return;
	}
	if (isalpha((unsigned char)*s)) {
		for (len = 0; isalpha((unsigned char)s[len]); len++)
			;
		hp->p += len;
		hp->cur.val = day_lookup(s, len);
		hp->cur.kind = hp->cur.val >= 0 ? T_DAY : T_BAD;
		return;
	}
	if (isdigit((unsigned char)*s)) {
		for (len = 0; isdigit((unsigned char)s[len]) || s[len] == ':';
		    len++)
			;
		hp->p += len;
		hp->cur.val = time_lookup(s, len);
		hp->cur.kind = hp->cur.val >= 0 ? T_TIME : T_BAD;
		return;
	}
	hp->p++;
	hp->cur.kind = T_BAD;
}

/* The current token's text, at most 16 bytes of it, for messages. */
static const char *
tok_text(const struct hparse *hp, char buf[24])
{
	size_t	n = (size_t)(hp->p - hp->cur.at);

	if (hp->cur.kind == T_END)
		return "the end";
	snprintf(buf, 24, "\"%.*s\"", (int)(n > 16 ? 16 : n), hp->cur.at);
	return buf;
}

static void
set_range(struct hours *h, int from, int to)
{
	int	m;

	for (m = from; m < to; m++)
		h->open[m / 8] |= (unsigned char)(1u << (m % 8));
}

/* Open minutes START..END of day D (END <= START runs into day D + 1). */
static void
set_span(struct hours *h, int d, int start, int end)
{
	int	base = d * HOURS_MIN_PER_DAY;

	if (end > start) {
		set_range(h, base + start, base + end);
		return;
	}
	set_range(h, base + start, base + HOURS_MIN_PER_DAY);
	base = ((d + 1) % 7) * HOURS_MIN_PER_DAY;
	set_range(h, base, base + end);
}

/* days: the days of one rule into DAYS[7] */
static int
parse_days(struct hparse *hp, int days[7])
{
	char	b[24];
	int	d1, d2;

	for (;;) {
		if (hp->cur.kind != T_DAY) {
			herr(hp, "expected a day (Mon..Sun) at %s",
			    tok_text(hp, b));
			return -1;
		}
		d1 = d2 = hp->cur.val;
		next(hp);
		if (hp->cur.kind == T_DASH) {
			next(hp);
			if (hp->cur.kind != T_DAY) {
				herr(hp, "expected a day after \"-\" at %s",
				    tok_text(hp, b));
				return -1;
			}
			d2 = hp->cur.val;
			next(hp);
		}
		for (;;) {
			days[d1] = 1;
			if (d1 == d2)
				break;
			d1 = (d1 + 1) % 7;
		}
		if (hp->cur.kind != T_COMMA)
			return 0;
		next(hp);
	}
}

/* spans: the time spans of one rule, applied to DAYS */
static int
parse_spans(struct hparse *hp, const int days[7], struct hours *h)
{
	char	b[24];
	int	start, end, d;

	if (hp->cur.kind != T_TIME) {
		herr(hp, "expected a time span (hh:mm-hh:mm) at %s",
		    tok_text(hp, b));
		return -1;
	}
	for (;;) {
		if (hp->cur.kind != T_TIME) {
			herr(hp, "expected a time (hh:mm) at %s",
			    tok_text(hp, b));
			return -1;
		}
		start = hp->cur.val;
		next(hp);
		if (hp->cur.kind != T_DASH) {
			herr(hp, "expected \"-\" after a start time at %s",
			    tok_text(hp, b));
			return -1;
		}
		next(hp);
		if (hp->cur.kind != T_TIME) {
			herr(hp, "expected an end time (hh:mm) at %s",
			    tok_text(hp, b));
			return -1;
		}
		end = hp->cur.val;
		if (start == HOURS_MIN_PER_DAY) {
			herr(hp, "a span cannot start at 24:00");
			return -1;
		}
		if (end == start) {
			herr(hp, "empty span %02d:%02d-%02d:%02d (a whole day "
			    "is 00:00-24:00)", start / 60, start % 60,
			    end / 60, end % 60);
			return -1;
		}
		for (d = 0; d < 7; d++)
			if (days[d])
				set_span(h, d, start, end);
		next(hp);
		if (hp->cur.kind != T_COMMA)
			return 0;
		next(hp);
	}
}

int
hours_parse(const char *text, struct hours *h, char *err, size_t errlen)
{
	struct hparse	 hp;
	const char	*s;
	char		 b[24];
	size_t		 len;
	int		 days[7], rules = 0;

	memset(h, 0, sizeof(*h));
	memset(&hp, 0, sizeof(hp));
	hp.err = err;
	hp.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (text == NULL || (len = strlen(text)) == 0) {
		herr(&hp, "no office hours given");
		return -1;
	}
	if (len > HOURS_TEXT_MAX) {
		herr(&hp, "longer than %d bytes", HOURS_TEXT_MAX);
		return -1;
	}
	for (s = text; *s == ' ' || *s == '\t'; s++)
		;
	if (strncmp(s, "24/7", 4) == 0 && strspn(s + 4, " \t") ==
	    strlen(s + 4)) {
		memset(h->open, 0xff, sizeof(h->open));
		return 0;
	}
	hp.p = text;
	next(&hp);
	while (hp.cur.kind != T_END) {
		if (hp.cur.kind == T_SEMI) {	/* an empty rule */
			next(&hp);
			continue;
		}
		memset(days, 0, sizeof(days));
		if (parse_days(&hp, days) != 0 ||
		    parse_spans(&hp, days, h) != 0)
			break;
		rules++;
		if (hp.cur.kind != T_SEMI && hp.cur.kind != T_END) {
			herr(&hp, "expected \";\" or the end at %s",
			    tok_text(&hp, b));
			break;
		}
	}
	if (!hp.failed && rules == 0)
		herr(&hp, "no office hours given");
	if (hp.failed) {
		memset(h, 0, sizeof(*h));
		return -1;
	}
	return 0;
}

int
hours_open_at(const struct hours *h, int wday, int hour, int min)
{
	int	m;

	if (wday < 0 || wday > 6 || hour < 0 || hour > 23 || min < 0 ||
	    min > 59)
		return 0;
	/* struct tm counts from Sunday, the bitmap from Monday */
	m = ((wday + 6) % 7) * HOURS_MIN_PER_DAY + hour * 60 + min;
	return (h->open[m / 8] >> (m % 8)) & 1;
}

int
hours_zone_name_ok(const char *name)
{
	const char	*p, *comp;
	size_t		 len;

	/* no '.' at all, so no "." or ".." component can reach a path */
	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > HOURS_ZONE_MAX || name[0] == '/')
		return 0;
	for (p = comp = name;; p++) {
		if (*p == '/' || *p == '\0') {
			if (p == comp)
				return 0;	/* an empty component */
			if (*p == '\0')
				return 1;
			comp = p + 1;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '+' &&
		    *p != '-')
			return 0;
	}
}
