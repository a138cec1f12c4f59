/*
 * directory.c - load and query the counterpart directory.
 *
 * The file is INI (libinih), one section per authority id.  Lines are
 * length-checked before libinih sees them (it splits long lines), a
 * line-counting reader gives every error its file:line, and each entry is
 * checked completely before the directory is returned: a directory is
 * either wholly valid or refused.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "bounds.h"
#include "conf.h"
#include "directory.h"
#include "hours.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define TZDIR_DEFAULT	"/usr/share/zoneinfo"

#define TYPE_MAX	6	/* highest RequestType value */

static const struct {
	const char	*name;
	int		 type;
} type_names[] = {
	/* The first name of each type is its canonical name. */
	{ "mla",				1 },
	{ "extradition",			2 },
	{ "confiscation",			3 },
	{ "transfer",				4 },
	{ "transfer_of_sentenced_persons",	4 },
	{ "joint_investigation",		5 },
	{ "jit",				5 },
	{ "other",				6 },
};
#define NTYPE_NAMES	(sizeof(type_names) / sizeof(type_names[0]))

int
id_valid(const char *id, size_t len)
{
	if (id == NULL || len < 4 || len > ID_MAX)
		return 0;
	if (id[0] < 'A' || id[0] > 'Z' || id[1] < 'A' || id[1] > 'Z' ||
	    id[2] != '-')
		return 0;
	for (size_t i = 3; i < len; i++) {
		char c = id[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 3))
			return 0;
	}
	return 1;
}

int
type_from_name(const char *name)
{
	for (size_t i = 0; i < NTYPE_NAMES; i++)
		if (strcmp(name, type_names[i].name) == 0)
			return type_names[i].type;
	return -1;
}

const char *
type_name(int type)
{
	for (size_t i = 0; i < NTYPE_NAMES; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "unspecified";
}

/* Keys of a directory entry, in the order they are documented. */
enum dkey { DK_NAME, DK_ENDPOINT, DK_CERT, DK_PIN, DK_ACCEPTS, DK_LANGUAGES,
	DK_TIMEZONE, DK_HOURS, DK_URGENT, DK_N };
static const struct {
	const char	*key;
	int		 required;
} dir_keys[DK_N] = {
	[DK_NAME] =		{ "name", 1 },
	[DK_ENDPOINT] =		{ "endpoint", 1 },
	[DK_CERT] =		{ "cert", 1 },
	[DK_PIN] =		{ "pin", 0 },
	[DK_ACCEPTS] =		{ "accepts", 0 },
	[DK_LANGUAGES] =	{ "languages", 0 },
	[DK_TIMEZONE] =		{ "timezone", 0 },
	[DK_HOURS] =		{ "hours", 0 },
	[DK_URGENT] =		{ "urgent", 0 },
};

/* The parse state: entries as read, in file order. */
struct dparse {
	const char	*file;
	FILE		*fp;
	int		 lineno;	/* line being parsed */
	int		 hdr_line;	/* line of the current [section] */
	int		 hdr_keys;	/* keys seen since that header */
	char		 hdr_name[64];
	int		 failed;
	char		*err;
	size_t		 errlen;
	struct dir_entry *e;		/* array, n used, cap allocated */
	int		*seen;		/* per entry: line of each key, DK_N each */
	int		*secline;	/* per entry: line of its section header */
	size_t		 n, cap;
};

/* text_add - append S to the NUL-terminated BUF, truncating */
static void
text_add(char *buf, const char *s, size_t size)
{
	size_t	len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, "%s", s);
}

static void
derr(struct dparse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
derr(struct dparse *p, int line, const char *fmt, ...)
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

/* hdr_end - a section header followed by no key is an entry with nothing */
static void
hdr_end(struct dparse *p)
{
	if (p->hdr_line != 0 && p->hdr_keys == 0)
		derr(p, p->hdr_line, "[%s]: section without keys",
		    p->hdr_name);
}

/*
 * hours_comment_cut - LINE is an `hours` key whose value libinih would cut
 * at an inline comment (';' after a blank), silently dropping the rules
 * after it: ';' separates rules in the hours grammar.
 */
static int
hours_comment_cut(const char *line)
{
	const char	*v;

	if (strncmp(line, "hours", 5) != 0)
		return 0;
	v = line + 5 + strspn(line + 5, " \t");
	if (*v != '=')
		return 0;
	for (v++; *v != '\0'; v++)
		if (*v == ';' && (v[-1] == ' ' || v[-1] == '\t'))
			return 1;
	return 0;
}

/* dreader - fgets for libinih that counts lines (one call = one line) */
static char *
dreader(char *str, int num, void *stream)
{
	struct dparse	*p = stream;
	char		*s;
	const char	*t;

	if (p->failed)
		return NULL;
	if ((s = fgets(str, num, p->fp)) == NULL) {
		hdr_end(p);
		return NULL;
	}
	p->lineno++;
	t = s + strspn(s, " \t");
	if (*t == '\0' || *t == '\n' || *t == '\r' || *t == ';' || *t == '#')
		return s;
	/*
	 * An indented line would continue the previous value in libinih;
	 * refuse it rather than silently merge two lines.
	 */
	if (t != s) {
		derr(p, p->lineno, "indented line (continuation lines are not "
		    "supported)");
		return NULL;
	}
	if (*t == '[') {
		size_t n = strcspn(t + 1, "]\r\n");

		if (t[1 + n] != ']') {
			derr(p, p->lineno, "syntax error: no ']' after "
			    "section name");
			return NULL;
		}
		hdr_end(p);
		p->hdr_line = p->lineno;
		p->hdr_keys = 0;
		snprintf(p->hdr_name, sizeof(p->hdr_name), "%.*s",
		    (int)(n < sizeof(p->hdr_name) ? n : sizeof(p->hdr_name) - 1),
		    t + 1);
		for (size_t i = 0; i < p->n; i++)
			if (strcmp(p->e[i].id, p->hdr_name) == 0)
				derr(p, p->lineno, "authority [%s] listed "
				    "twice (first on line %d)", p->hdr_name,
				    p->secline[i]);
		if (p->failed)
			return NULL;
	}
	if (hours_comment_cut(t)) {
		derr(p, p->lineno, "hours: a blank before ';' starts a comment "
		    "and would cut the hours short; write the ';' right after "
		    "a time (\"17:00; Sat ...\")");
		return NULL;
	}
	return s;
}

static struct dir_entry *
entry_for(struct dparse *p, const char *section, size_t *idx)
{
	size_t	i;

	/* Keys of one section arrive together: the last entry is the usual one. */
	if (p->n > 0 && strcmp(p->e[p->n - 1].id, section) == 0) {
		*idx = p->n - 1;
		return &p->e[p->n - 1];
	}
	for (i = 0; i < p->n; i++)
		if (strcmp(p->e[i].id, section) == 0) {
			derr(p, p->lineno, "authority [%s] listed twice (first "
			    "on line %d)", section, p->secline[i]);
			return NULL;
		}
	if (!id_valid(section, strlen(section))) {
		derr(p, p->lineno, "[%s]: not a valid authority id", section);
		return NULL;
	}
	if (p->n >= DIRECTORY_MAX) {
		derr(p, p->lineno, "more than %d authorities", DIRECTORY_MAX);
		return NULL;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->e = xrealloc(p->e, p->cap * sizeof(*p->e));
		p->seen = xrealloc(p->seen, p->cap * DK_N * sizeof(int));
		p->secline = xrealloc(p->secline, p->cap * sizeof(int));
	}
	memset(&p->e[p->n], 0, sizeof(p->e[p->n]));
	memset(&p->seen[p->n * DK_N], 0, DK_N * sizeof(int));
	p->e[p->n].id = xstrdup(section);
	p->secline[p->n] = p->hdr_line;
	*idx = p->n;
	return &p->e[p->n++];
}

/* parse_accepts - "mla, extradition" -> bits + normalised text */
static int
parse_accepts(struct dparse *p, struct dir_entry *e, const char *value)
{
	char	*copy, *tok, *next, text[256];
	size_t	 ntok = 0;
	int	 rc = -1;

	text[0] = '\0';
	copy = xstrdup(value);
	/* Split by hand: strtok would hide an empty item ("mla,,other"). */
	for (tok = copy; tok != NULL; tok = next) {
		char *end;
		int t;

		if ((next = strchr(tok, ',')) != NULL)
			*next++ = '\0';
		tok += strspn(tok, " \t");
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0') {
			derr(p, p->lineno, "accepts: empty item");
			goto out;
		}
		if (++ntok > DIR_TYPES_MAX) {
			derr(p, p->lineno, "accepts: more than %d items",
			    DIR_TYPES_MAX);
			goto out;
		}
		if ((t = type_from_name(tok)) == -1) {
			derr(p, p->lineno, "accepts: unknown request type "
			    "\"%s\" (known: mla, extradition, confiscation, "
			    "transfer, joint_investigation, other)", tok);
			goto out;
		}
		if (e->accepts & (1u << t))
			continue;
		e->accepts |= 1u << t;
		if (text[0] != '\0')
			text_add(text, ", ", sizeof(text));
		text_add(text, type_name(t), sizeof(text));
	}
	if (ntok == 0) {
		derr(p, p->lineno, "accepts: no request type listed");
		goto out;
	}
	e->accepts_text = xstrdup(text);
	rc = 0;
out:
	free(copy);
	return rc;
}

/* parse_pin - exactly 64 hex digits -> 32 bytes, via OpenSSL's decoder */
static int
parse_pin(struct dparse *p, struct dir_entry *e, const char *value)
{
	size_t	len = 0;

	if (strlen(value) != 2 * SHA256_LEN ||
	    strspn(value, "0123456789abcdefABCDEF") != 2 * SHA256_LEN ||
	    OPENSSL_hexstr2buf_ex(e->pin, sizeof(e->pin), &len, value,
	    '\0') != 1 || len != SHA256_LEN) {
		ERR_clear_error();
		derr(p, p->lineno, "pin: need 64 hex digits (SHA-256 of the "
		    "DER SubjectPublicKeyInfo)");
		return -1;
	}
	e->has_pin = 1;
	return 0;
}

/* load_cert - read the entry's PEM certificate and check its identity */
static int
load_cert(struct dparse *p, struct dir_entry *e, const char *value)
{
	FILE	*fp;
	char	 certid[ID_MAX + 1], reason[256];

	e->cert_path = conf_path_resolve(p->file, value);
	if ((fp = fopen(e->cert_path, "re")) == NULL) {
		derr(p, p->lineno, "cert %s: %s", e->cert_path,
		    strerror(errno));
		return -1;
	}
	e->cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (e->cert == NULL) {
		ERR_clear_error();
		derr(p, p->lineno, "cert %s: no PEM certificate", e->cert_path);
		return -1;
	}
	if (tls_cert_authority_id(e->cert, certid, sizeof(certid), reason,
	    sizeof(reason)) == -1) {
		derr(p, p->lineno, "cert %s: %s", e->cert_path, reason);
		return -1;
	}
	if (strcmp(certid, e->id) != 0) {
		derr(p, p->lineno, "cert %s names %s, not %s", e->cert_path,
		    certid, e->id);
		return -1;
	}
	return 0;
}

static int
dhandler(void *user, const char *section, const char *name, const char *value)
{
	struct dparse		*p = user;
	struct dir_entry	*e;
	char			 host[256], port[8];
	size_t			 idx;
	int			 k, *seen;

	if (p->failed)
		return 0;
	if (*section == '\0') {
		derr(p, p->lineno, "key \"%s\" outside an [ID] section", name);
		return 0;
	}
	p->hdr_keys++;
	if ((e = entry_for(p, section, &idx)) == NULL)
		return 0;
	for (k = 0; k < DK_N; k++)
		if (strcmp(name, dir_keys[k].key) == 0)
			break;
	if (k == DK_N) {
		derr(p, p->lineno, "[%s]: unknown key \"%s\"", section, name);
		return 0;
	}
	seen = &p->seen[idx * DK_N];
	if (seen[k] != 0) {
		derr(p, p->lineno, "[%s]: duplicate key \"%s\" (first on line "
		    "%d)", section, name, seen[k]);
		return 0;
	}
	seen[k] = p->lineno;
	if (*value == '\0') {
		derr(p, p->lineno, "[%s]: empty value for \"%s\"", section,
		    name);
		return 0;
	}

	switch (k) {
	case DK_NAME:
		e->name = xstrdup(value);
		break;
	case DK_ENDPOINT:
		if (conf_split_hostport(value, host, sizeof(host), port,
		    sizeof(port)) == -1) {
			derr(p, p->lineno, "[%s]: endpoint \"%s\": need "
			    "host:port or [v6]:port, port 1-65535", section,
			    value);
			return 0;
		}
		e->endpoint = xstrdup(value);
		e->host = xstrdup(host);
		e->port = xstrdup(port);
		break;
	case DK_CERT:
		if (load_cert(p, e, value) == -1)
			return 0;
		break;
	case DK_PIN:
		if (parse_pin(p, e, value) == -1)
			return 0;
		break;
	case DK_ACCEPTS:
		if (parse_accepts(p, e, value) == -1)
			return 0;
		break;
	case DK_LANGUAGES:
		e->languages = xstrdup(value);
		break;
	case DK_TIMEZONE:
		e->timezone = xstrdup(value);
		break;
	case DK_HOURS:
		e->hours = xstrdup(value);
		break;
	case DK_URGENT:
		e->urgent = xstrdup(value);
		break;
	}
	return 1;
}

static void
entry_clear(struct dir_entry *e)
{
	free(e->id);
	free(e->name);
	free(e->host);
	free(e->port);
	free(e->endpoint);
	free(e->cert_path);
	X509_free(e->cert);
	free(e->accepts_text);
	free(e->languages);
	free(e->timezone);
	free(e->hours);
	free(e->urgent);
}

/*
 * zone_known - whether ZONE (a well-formed name) is in the system's tz
 * database, where the CLI looks it up: 1 yes, 0 no (reason in WHY), -1
 * when there is no tz database to ask.
 */
static int
zone_known(const char *zone, char *why, size_t whylen)
{
	const char	*dir = getenv("TZDIR");
	struct stat	 st;
	char		 path[512], magic[4];
	FILE		*fp;
	size_t		 n;

	if (dir == NULL || dir[0] != '/')
		dir = TZDIR_DEFAULT;
	snprintf(path, sizeof(path), "%s/%s", dir, zone);
	if ((fp = fopen(path, "re")) == NULL) {
		int	e = errno;

		if (e == ENOENT && stat(dir, &st) == -1 && errno == ENOENT)
			return -1;
		snprintf(why, whylen, "not in the tz database (%s: %s)", path,
		    strerror(e));
		return 0;
	}
	n = fread(magic, 1, sizeof(magic), fp);
	fclose(fp);
	if (n != sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		snprintf(why, whylen, "%s is not a tz database file", path);
		return 0;
	}
	return 1;
}

/*
 * check_office - an entry's timezone is an IANA name the tz database
 * knows (not checked, with a warning, on a system without one) and its
 * hours follow the grammar of hours.h, with a time zone to read them in.
 */
static int
check_office(struct dparse *p, const struct dir_entry *e, const int *seen)
{
	struct hours	h;
	char		why[600];

	if (e->timezone[0] != '\0') {
		if (!hours_zone_name_ok(e->timezone)) {
			derr(p, seen[DK_TIMEZONE], "[%s]: timezone \"%s\": not "
			    "an IANA time zone name (e.g. Africa/Nairobi)",
			    e->id, e->timezone);
			return -1;
		}
		switch (zone_known(e->timezone, why, sizeof(why))) {
		case 0:
			derr(p, seen[DK_TIMEZONE], "[%s]: timezone %s: %s",
			    e->id, e->timezone, why);
			return -1;
		case -1:
			log_warnx("%s:%d: [%s]: timezone %s not checked: no tz "
			    "database on this system (install tzdata)",
			    p->file, seen[DK_TIMEZONE], e->id, e->timezone);
			break;
		}
	}
	if (e->hours[0] != '\0') {
		if (hours_parse(e->hours, &h, why, sizeof(why)) != 0) {
			derr(p, seen[DK_HOURS], "[%s]: hours: %s", e->id, why);
			return -1;
		}
		if (e->timezone[0] == '\0') {
			derr(p, seen[DK_HOURS], "[%s]: hours without a "
			    "timezone to read them in", e->id);
			return -1;
		}
	}
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct dir_entry *x = a, *y = b;

	return strcmp(x->id, y->id);
}

/* finish - required keys, defaults, pin sanity; 0 or -1 */
static int
finish(struct dparse *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct dir_entry *e = &p->e[i];
		int *seen = &p->seen[i * DK_N];

		for (int k = 0; k < DK_N; k++)
			if (dir_keys[k].required && seen[k] == 0) {
				derr(p, p->secline[i], "[%s]: missing key "
				    "\"%s\"", e->id, dir_keys[k].key);
				return -1;
			}
		if (e->accepts_text == NULL) {
			/* Nothing declared: the counterpart takes every type. */
			char text[256] = "";

			for (int t = 1; t <= TYPE_MAX; t++) {
				e->accepts |= 1u << t;
				if (t > 1)
					text_add(text, ", ", sizeof(text));
				text_add(text, type_name(t), sizeof(text));
			}
			e->accepts_text = xstrdup(text);
		}
		if (e->languages == NULL)
			e->languages = xstrdup("");
		if (e->timezone == NULL)
			e->timezone = xstrdup("");
		if (e->hours == NULL)
			e->hours = xstrdup("");
		if (e->urgent == NULL)
			e->urgent = xstrdup("");
		if (check_office(p, e, seen) != 0)
			return -1;
		if (e->has_pin) {
			unsigned char spki[SHA256_LEN];

			/*
			 * A pin that does not match the directory certificate
			 * is allowed (a key roll-over may be under way) but
			 * the peer will then be refused: say so now.
			 */
			if (tls_spki_sha256(e->cert, spki) == 0 &&
			    CRYPTO_memcmp(spki, e->pin, SHA256_LEN) != 0)
				log_warnx("%s directory pin does not match the "
				    "key of %s", e->id, e->cert_path);
		}
	}
	return 0;
}

struct directory *
directory_load(const char *file, char *err, size_t errlen)
{
	struct directory	*d = NULL;
	struct dparse		 p;
	int			 rc;

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
	rc = ini_parse_stream(dreader, &p, dhandler, &p);
	if (!p.failed && ferror(p.fp))
		derr(&p, p.lineno, "read error");
	fclose(p.fp);
	if (!p.failed && rc > 0)
		derr(&p, rc, "syntax error (expected [ID] or key = value)");
	else if (!p.failed && rc < 0)
		derr(&p, p.lineno, "cannot parse");
	if (!p.failed && p.n == 0)
		derr(&p, p.lineno, "no authorities listed");
	if (!p.failed)
		finish(&p);
	if (p.failed) {
		for (size_t i = 0; i < p.n; i++)
			entry_clear(&p.e[i]);
		free(p.e);
		goto out;
	}
	qsort(p.e, p.n, sizeof(*p.e), entry_cmp);
	d = xcalloc(1, sizeof(*d));
	d->entries = p.e;
	d->n = p.n;
out:
	free(p.seen);
	free(p.secline);
	return d;
}

void
directory_free(struct directory *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		entry_clear(&d->entries[i]);
	free(d->entries);
	free(d);
}

const struct dir_entry *
directory_find(const struct directory *d, const char *id)
{
	struct dir_entry key;

	if (d == NULL || id == NULL || d->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.id = (char *)(uintptr_t)id;
	return bsearch(&key, d->entries, d->n, sizeof(*d->entries), entry_cmp);
}
