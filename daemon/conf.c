/*
 * conf.c - comityd.conf: parse with libinih through schema tables.
 *
 * Each section has a table {key, type, default, min, max, offset}; the
 * handler looks the key up, refuses unknown and duplicate keys, parses
 * the value by type and range-checks it.  Defaults go through the same
 * parsers, so a default can never be out of its own range.  Lines are
 * length-checked before libinih sees them (it splits long lines into a
 * bogus extra key), and a line-counting reader gives each error its
 * file:line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "bounds.h"
#include "conf.h"
#include "directory.h"
#include "log.h"
#include "xmalloc.h"

enum ctype {
	CT_ID,		/* authority id */
	CT_PATH,	/* resolved against the config file's directory */
	CT_NAME,	/* a user/group name */
	CT_HOSTPORT,	/* host:port -> listen_host + listen_port */
	CT_SIZE,	/* bytes, K/M/G/T suffixes */
	CT_DURATION,	/* milliseconds, ms/s/m/h/d suffixes */
	CT_UINT,	/* plain number */
	CT_LOGLEVEL,	/* error|warn|info|debug */
};

struct ckey {
	const char	*key;
	enum ctype	 type;
	const char	*def;		/* NULL = no default */
	uint64_t	 min, max;	/* numeric types only */
	size_t		 off;		/* into struct conf */
	int		 required;
};

#define O(f)	offsetof(struct conf, f)
#define KB	(1ull << 10)
#define MB	(1ull << 20)
#define GB	(1ull << 30)
#define TB	(1ull << 40)
#define SEC	1000ull
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

static const struct ckey authority_keys[] = {
	{ "id",		CT_ID,	 NULL, 0, 0, O(id), 1 },
	{ "cert",	CT_PATH, NULL, 0, 0, O(cert), 1 },
	{ "key",	CT_PATH, NULL, 0, 0, O(key), 1 },
	{ "ca",		CT_PATH, NULL, 0, 0, O(ca), 1 },
	{ "crl",	CT_PATH, NULL, 0, 0, O(crl), 0 },
	{ "retired_key", CT_PATH, NULL, 0, 0, O(retired_key), 0 },
	{ "directory",	CT_PATH, NULL, 0, 0, O(directory), 1 },
};
static const struct ckey listen_keys[] = {
	{ "address",	CT_HOSTPORT, "0.0.0.0:7443", 0, 0, O(listen_host), 0 },
};
static const struct ckey store_keys[] = {
	{ "path",	CT_PATH, NULL, 0, 0, O(store_path), 1 },
	{ "map_size",	CT_SIZE, "1G", MAP_SIZE_MIN, 16 * TB, O(map_size), 0 },
};
static const struct ckey client_keys[] = {
	{ "socket",	CT_PATH, NULL, 0, 0, O(socket), 1 },
	{ "group",	CT_NAME, NULL, 0, 0, O(group), 0 },
};
static const struct ckey urgent_keys[] = {
	{ "hook",		CT_PATH, NULL, 0, 0, O(hook), 0 },
	{ "hook_timeout",	CT_DURATION, "30s", SEC, 10 * MIN,
	    O(hook_timeout_ms), 0 },
	{ "delivery_warning",	CT_DURATION, "5m", 100, 7 * DAY,
	    O(delivery_warning_ms), 0 },
	{ "retrieve_deadline",	CT_DURATION, "30m", 100, 7 * DAY,
	    O(retrieve_deadline_ms), 0 },
};
static const struct ckey limits_keys[] = {
	{ "max_frame",		CT_SIZE, "16M", FRAME_MAX_MIN, FRAME_MAX_MAX,
	    O(max_frame), 0 },
	{ "max_connections",	CT_UINT, "1024", 1, 65536,
	    O(max_connections), 0 },
	{ "handshake_timeout",	CT_DURATION, "10s", 100, 10 * MIN,
	    O(handshake_timeout_ms), 0 },
	{ "idle_timeout",	CT_DURATION, "5m", SEC, DAY,
	    O(idle_timeout_ms), 0 },
	{ "window",		CT_UINT, "256", 1, WINDOW_MAX, O(window), 0 },
	{ "workers",		CT_UINT, "0", 0, WORK_THREADS_MAX, O(workers),
	    0 },
	{ "skew_warning",	CT_DURATION, "2s", 1, DAY,
	    O(skew_warning_ms), 0 },
};
static const struct ckey retry_keys[] = {
	{ "initial",	CT_DURATION, "1s", 10, HOUR, O(retry_initial_ms), 0 },
	{ "max",	CT_DURATION, "5m", 10, DAY, O(retry_max_ms), 0 },
};
static const struct ckey audit_keys[] = {
	{ "checkpoint_interval", CT_DURATION, "1h", 0, 7 * DAY,
	    O(checkpoint_interval_ms), 0 },
};
static const struct ckey log_keys[] = {
	{ "level",	CT_LOGLEVEL, "info", 0, 0, O(log_level), 0 },
};

#define KEYS(a)	a, sizeof(a) / sizeof(a[0])
static const struct csection {
	const char		*name;
	const struct ckey	*keys;
	size_t			 nkeys;
} sections[] = {
	{ "authority",	KEYS(authority_keys) },
	{ "listen",	KEYS(listen_keys) },
	{ "store",	KEYS(store_keys) },
	{ "client",	KEYS(client_keys) },
	{ "urgent",	KEYS(urgent_keys) },
	{ "limits",	KEYS(limits_keys) },
	{ "retry",	KEYS(retry_keys) },
	{ "audit",	KEYS(audit_keys) },
	{ "log",	KEYS(log_keys) },
};
#define NSECTIONS	(sizeof(sections) / sizeof(sections[0]))
#define KEYS_MAX	8	/* most keys in one section */

struct cparse {
	const char	*file;
	FILE		*fp;
	struct conf	*c;
	int		 lineno;
	int		 failed;
	char		*err;
	size_t		 errlen;
	int		 secline[NSECTIONS];		/* header line, 0 = absent */
	int		 seen[NSECTIONS][KEYS_MAX];	/* line of each key */
};

static void	cerr(struct cparse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
cerr(struct cparse *p, int line, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	if (p->failed)
		return;		/* the first error wins */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, msg);
	p->failed = 1;
}

/* digits - leading decimal digits of S into *v; returns the rest or NULL */
static const char *
digits(const char *s, uint64_t *v)
{
	uint64_t	n = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	*v = n;
	return s;
}

static int
scaled(uint64_t n, uint64_t mult, uint64_t *out)
{
	if (mult != 0 && n > UINT64_MAX / mult)
		return -1;
	*out = n * mult;
	return 0;
}

int
conf_parse_duration(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "", SEC }, { "ms", 1 }, { "s", SEC }, { "m", MIN },
		{ "h", HOUR }, { "d", DAY },
	};
	const char	*rest;
	uint64_t	 n;

	if (s == NULL || (rest = digits(s, &n)) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(rest, units[i].unit) == 0)
			return scaled(n, units[i].mult, ms);
	return -1;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	const char	*rest;
	uint64_t	 n, mult;

	if (s == NULL || (rest = digits(s, &n)) == NULL)
		return -1;
	switch (rest[0]) {
	case '\0':		mult = 1; break;
	case 'K': case 'k':	mult = KB; break;
	case 'M': case 'm':	mult = MB; break;
	case 'G': case 'g':	mult = GB; break;
	case 'T': case 't':	mult = TB; break;
	default:		return -1;
	}
	if (rest[0] != '\0' && rest[1] != '\0')
		return -1;
	return scaled(n, mult, bytes);
}

/* host_ok - a host name or IPv4 literal ([A-Za-z0-9._-]+), or IPv6 */
static int
host_ok(const char *h, size_t len, int v6)
{
	/* v6: hex digits, ':', '.', and a zone after '%' ("fe80::1%eth0") */
	const char *ok = v6 ? "0123456789abcdefABCDEF:.%"
	    "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ" :
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (h[i] == '\0' || strchr(ok, h[i]) == NULL)
			return 0;
	/* An IPv6 literal has a colon; "[1.2.3.4]" is not one. */
	if (v6 && memchr(h, ':', len) == NULL)
		return 0;
	return 1;
}

int
conf_split_hostport(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*h, *colon, *rest;
	size_t		 hlen;
	uint64_t	 n;
	int		 v6 = 0;

	if (s == NULL)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		v6 = 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return -1;	/* none, or a bare IPv6 address */
		h = s;
		hlen = (size_t)(colon - s);
	}
	if (!host_ok(h, hlen, v6) || hlen >= hostlen)
		return -1;
	if ((rest = digits(colon + 1, &n)) == NULL || *rest != '\0' ||
	    rest - (colon + 1) > 5 || n < 1 || n > 65535)
		return -1;
	if ((size_t)snprintf(port, portlen, "%u", (unsigned)n) >= portlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

char *
conf_path_resolve(const char *basefile, const char *rel)
{
	const char	*slash;
	char		*dir, *abs, *out;
	char		 cwd[PATH_MAX];

	if (rel[0] == '/')
		return xstrdup(rel);
	if ((slash = strrchr(basefile, '/')) == NULL)
		dir = xstrdup(".");
	else if (slash == basefile)
		dir = xstrdup("/");
	else {
		dir = xmemdup(basefile, (size_t)(slash - basefile) + 1);
		dir[slash - basefile] = '\0';
	}
	/* Absolute, so a later chdir() cannot change what a path means. */
	if ((abs = realpath(dir, NULL)) == NULL) {
		if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
			size_t n = strlen(cwd) + strlen(dir) + 2;

			abs = xmalloc(n);
			snprintf(abs, n, "%s/%s", cwd, dir);
		} else
			abs = xstrdup(dir);
	}
	free(dir);
	out = xmalloc(strlen(abs) + strlen(rel) + 2);
	sprintf(out, "%s%s%s", abs,
	    abs[0] != '\0' && abs[strlen(abs) - 1] == '/' ? "" : "/", rel);
	free(abs);
	return out;
}

int
conf_check_lines(const char *file, char *err, size_t errlen)
{
	FILE	*fp;
	size_t	 len = 0;
	int	 ch, line = 1, rc = 0;

	if ((fp = fopen(file, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	while ((ch = getc(fp)) != EOF) {
		if (ch == '\n') {
			line++;
			len = 0;
			continue;
		}
		if (ch == '\0') {
			snprintf(err, errlen, "%s:%d: NUL byte in line", file,
			    line);
			rc = -1;
			break;
		}
		if (++len > CONF_LINE_MAX) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes",
			    file, line, CONF_LINE_MAX);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		rc = -1;
	}
	fclose(fp);
	return rc;
}

static const struct csection *
section_find(const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strlen(sections[i].name) == len &&
		    strncmp(sections[i].name, name, len) == 0) {
			*idx = i;
			return &sections[i];
		}
	return NULL;
}

/* creader - fgets for libinih that counts lines (one call = one line) */
static char *
creader(char *str, int num, void *stream)
{
	struct cparse	*p = stream;
	const char	*t;
	char		*s;
	size_t		 idx;

	if (p->failed || (s = fgets(str, num, p->fp)) == NULL)
		return NULL;
	p->lineno++;
	t = s + strspn(s, " \t");
	if (*t == '\0' || *t == '\n' || *t == '\r' || *t == ';' || *t == '#')
		return s;
	/* libinih would take an indented line as a continuation. */
	if (t != s) {
		cerr(p, p->lineno, "indented line (continuation lines are not "
		    "supported)");
		return NULL;
	}
	if (*t == '[') {
		size_t n = strcspn(t + 1, "]\r\n");

		if (t[1 + n] != ']') {
			cerr(p, p->lineno, "syntax error: no ']' after "
			    "section name");
			return NULL;
		}
		if (section_find(t + 1, n, &idx) == NULL) {
			cerr(p, p->lineno, "unknown section [%.*s]",
			    (int)(n > 64 ? 64 : n), t + 1);
			return NULL;
		}
		if (p->secline[idx] != 0) {
			cerr(p, p->lineno, "section [%s] repeated (first on "
			    "line %d)", sections[idx].name, p->secline[idx]);
			return NULL;
		}
		p->secline[idx] = p->lineno;
	}
	return s;
}

/* set_value - parse VALUE by K's type into the struct; 0 or -1 */
static int
set_value(struct cparse *p, const struct ckey *k, const char *value, int line)
{
	char		*base = (char *)p->c;
	const char	*rest;
	uint64_t	 v = 0;
	int		 lvl;
	char		 host[256], port[8];

	switch (k->type) {
	case CT_ID:
		if (!id_valid(value, strlen(value))) {
			cerr(p, line, "%s: \"%s\" is not an authority id "
			    "(like BE-FPSJ: 2 letters, '-', up to 32 of "
			    "A-Z 0-9 -)", k->key, value);
			return -1;
		}
		*(char **)(base + k->off) = xstrdup(value);
		return 0;
	case CT_PATH:
		*(char **)(base + k->off) = conf_path_resolve(p->file, value);
		return 0;
	case CT_NAME:
		if (strlen(value) > 32 || strspn(value, "abcdefghijklmnopqrstuv"
		    "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(value) || value[0] == '-') {
			cerr(p, line, "%s: \"%s\" is not a valid name", k->key,
			    value);
			return -1;
		}
		*(char **)(base + k->off) = xstrdup(value);
		return 0;
	case CT_HOSTPORT:
		if (conf_split_hostport(value, host, sizeof(host), port,
		    sizeof(port)) == -1) {
			cerr(p, line, "%s: \"%s\": need host:port or "
			    "[v6]:port with port 1-65535", k->key, value);
			return -1;
		}
		p->c->listen_host = xstrdup(host);
		p->c->listen_port = xstrdup(port);
		return 0;
	case CT_LOGLEVEL:
		if ((lvl = log_parse_level(value)) == -1) {
			cerr(p, line, "%s: \"%s\": need error, warn, info or "
			    "debug", k->key, value);
			return -1;
		}
		*(int *)(base + k->off) = lvl;
		return 0;
	case CT_SIZE:
		if (conf_parse_size(value, &v) == -1) {
			cerr(p, line, "%s: \"%s\" is not a size (like 4096, "
			    "64K, 16M, 1G)", k->key, value);
			return -1;
		}
		break;
	case CT_DURATION:
		if (conf_parse_duration(value, &v) == -1) {
			cerr(p, line, "%s: \"%s\" is not a duration (like "
			    "250ms, 10s, 5m, 2h, 1d)", k->key, value);
			return -1;
		}
		break;
	case CT_UINT:
		if ((rest = digits(value, &v)) == NULL || *rest != '\0') {
			cerr(p, line, "%s: \"%s\" is not a number", k->key,
			    value);
			return -1;
		}
		break;
	}
	if (v < k->min || v > k->max) {
		if (k->type == CT_DURATION)
			cerr(p, line, "%s: \"%s\" out of range (%llums to "
			    "%llums)", k->key, value,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
		else
			cerr(p, line, "%s: \"%s\" out of range (%llu to %llu)",
			    k->key, value, (unsigned long long)k->min,
			    (unsigned long long)k->max);
		return -1;
	}
	*(uint64_t *)(base + k->off) = v;
	return 0;
}

static int
chandler(void *user, const char *section, const char *name, const char *value)
{
	struct cparse		*p = user;
	const struct csection	*sec;
	size_t			 si, ki;

	if (p->failed)
		return 0;
	if (*section == '\0') {
		cerr(p, p->lineno, "key \"%s\" outside a section", name);
		return 0;
	}
	if ((sec = section_find(section, strlen(section), &si)) == NULL) {
		cerr(p, p->lineno, "unknown section [%s]", section);
		return 0;
	}
	for (ki = 0; ki < sec->nkeys; ki++)
		if (strcmp(sec->keys[ki].key, name) == 0)
			break;
	if (ki == sec->nkeys) {
		cerr(p, p->lineno, "unknown key \"%s\" in [%s]", name, section);
		return 0;
	}
	if (p->seen[si][ki] != 0) {
		cerr(p, p->lineno, "duplicate key \"%s\" in [%s] (first on "
		    "line %d)", name, section, p->seen[si][ki]);
		return 0;
	}
	p->seen[si][ki] = p->lineno;
	if (*value == '\0') {
		cerr(p, p->lineno, "empty value for \"%s\" in [%s] (leave the "
		    "key out for its default)", name, section);
		return 0;
	}
	return set_value(p, &sec->keys[ki], value, p->lineno) == 0;
}

/* finish - defaults, required keys, cross-key checks */
static int
finish(struct cparse *p)
{
	for (size_t si = 0; si < NSECTIONS; si++) {
		const struct csection *sec = &sections[si];

		for (size_t ki = 0; ki < sec->nkeys; ki++) {
			const struct ckey *k = &sec->keys[ki];

			if (p->seen[si][ki] != 0)
				continue;
			if (k->required) {
				cerr(p, p->secline[si] ? p->secline[si] :
				    p->lineno, "missing required key \"%s\" "
				    "in [%s]", k->key, sec->name);
				return -1;
			}
			if (k->def != NULL && set_value(p, k, k->def,
			    p->lineno) == -1)
				return -1;
		}
	}
	if (p->c->retry_max_ms < p->c->retry_initial_ms) {
		size_t si = 0;
		int line;

		section_find("retry", 5, &si);
		/* Blame the key that was written; "max" first. */
		line = p->seen[si][1] ? p->seen[si][1] : p->seen[si][0];
		cerr(p, line,
		    "max (%llums) is less than initial (%llums) in [retry]",
		    (unsigned long long)p->c->retry_max_ms,
		    (unsigned long long)p->c->retry_initial_ms);
		return -1;
	}
	return 0;
}

struct conf *
conf_load(const char *file, char *err, size_t errlen)
{
	struct cparse	p;
	int		rc;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	if (conf_check_lines(file, err, errlen) == -1)
		return NULL;
	if ((p.fp = fopen(file, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	p.c = xcalloc(1, sizeof(*p.c));
	p.c->path = xstrdup(file);
	rc = ini_parse_stream(creader, &p, chandler, &p);
	if (!p.failed && ferror(p.fp))
		cerr(&p, p.lineno, "read error");
	fclose(p.fp);
	if (!p.failed && rc > 0)
		cerr(&p, rc, "syntax error (expected [section] or key = value)");
	else if (!p.failed && rc < 0)
		cerr(&p, p.lineno, "cannot parse");
	if (!p.failed)
		finish(&p);
	if (p.failed) {
		conf_free(p.c);
		return NULL;
	}
	return p.c;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->id);
	free(c->cert);
	free(c->key);
	free(c->ca);
	free(c->crl);
	free(c->retired_key);
	free(c->directory);
	free(c->listen_host);
	free(c->listen_port);
	free(c->store_path);
	free(c->socket);
	free(c->group);
	free(c->hook);
	free(c);
}
