/*
 * cmd_submit.c - comity submit: read the files, queue the request; with
 * --batch, read many requests from a JSON Lines file and queue them in
 * one round trip.
 *
 * A batch file is checked whole (every line, every field, every
 * document read) before anything is sent, so a typo submits nothing; what
 * the daemon refuses then fails request by request.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "office.h"
#include "output.h"

/* No document can be larger than the largest local frame. */
#define FILE_MAX	(256u << 20)

static const struct {
	const char	*ext;
	const char	*type;
} media_types[] = {
	{ "pdf", "application/pdf" },
	{ "txt", "text/plain" },
	{ "text", "text/plain" },
	{ "md", "text/markdown" },
	{ "csv", "text/csv" },
	{ "html", "text/html" },
	{ "htm", "text/html" },
	{ "xml", "application/xml" },
	{ "json", "application/json" },
	{ "rtf", "application/rtf" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document" },
	{ "xls", "application/vnd.ms-excel" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet" },
	{ "odt", "application/vnd.oasis.opendocument.text" },
	{ "ods", "application/vnd.oasis.opendocument.spreadsheet" },
	{ "eml", "message/rfc822" },
	{ "p7s", "application/pkcs7-signature" },
	{ "p7m", "application/pkcs7-mime" },
	{ "zip", "application/zip" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "png", "image/png" },
	{ "gif", "image/gif" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "mp3", "audio/mpeg" },
	{ "wav", "audio/wav" },
	{ "mp4", "video/mp4" },
};

static const char *
media_type(const char *name)
{
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	if (dot != NULL && dot != name)
		for (i = 0; i < sizeof(media_types) / sizeof(media_types[0]);
		    i++)
			if (strcasecmp(dot + 1, media_types[i].ext) == 0)
				return media_types[i].type;
	return "application/octet-stream";
}

/* Read PATH whole into D (name = its basename).  Returns an exit status. */
static int
read_doc(const char *path, struct comity_doc *d, char **namebuf)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	char		*copy, *base;
	const char	*why;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return cli_fail(EX_NOINPUT, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cli_fail(EX_NOINPUT, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return cli_fail(EX_DATAERR, "%s: larger than %u bytes", path,
		    FILE_MAX);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return cli_fail(EX_OSERR, "%s: out of memory", path);
	}
	/* read what fstat promised; a file that grows meanwhile is cut */
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			free(buf);
			return cli_fail(EX_NOINPUT, "%s: %s", path, n == 0 ?
			    "file shrank while reading" : strerror(errno));
		}
		off += (size_t)n;
	}
	close(fd);
	if ((copy = strdup(path)) == NULL) {
		free(buf);
		return cli_fail(EX_OSERR, "out of memory");
	}
	base = basename(copy);
	/* the recipient's fetch refuses what out_name_problem() refuses */
	if ((why = out_name_problem(base)) != NULL) {
		cli_fail(EX_DATAERR, "%s: the document name %s", path, why);
		free(copy);
		free(buf);
		return EX_DATAERR;
	}
	*namebuf = copy;
	d->name = base;
	d->media_type = media_type(base);
	d->data = buf;
	d->len = off;
	return EX_OK;
}

enum { O_TO = 1000, O_TYPE, O_URGENT, O_CASE, O_BASIS, O_LANG, O_SUBJECT,
	O_THEIR, O_REPLY, O_EXPIRES, O_KEY, O_BATCH };

/*
 * Parse the options into S, or the batch file's path into *BATCH; returns
 * -1 to go on, else an exit status.
 */
static int
submit_opts(int argc, char **argv, struct comity_submit *s,
    const char **batch)
{
	static const struct option	opts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "type", required_argument, NULL, O_TYPE },
		{ "urgent", no_argument, NULL, O_URGENT },
		{ "case", required_argument, NULL, O_CASE },
		{ "basis", required_argument, NULL, O_BASIS },
		{ "lang", required_argument, NULL, O_LANG },
		{ "subject", required_argument, NULL, O_SUBJECT },
		{ "their-ref", required_argument, NULL, O_THEIR },
		{ "reply-to", required_argument, NULL, O_REPLY },
		{ "expires", required_argument, NULL, O_EXPIRES },
		{ "key", required_argument, NULL, O_KEY },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t	d;
	int	c, fields = 0;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c >= O_TO && c < O_BATCH)
			fields++;
		switch (c) {
		case O_TO:
			s->to = optarg;
			break;
		case O_TYPE:
			if ((s->type = comity_type_from_name(optarg)) < 0)
				return cli_fail(EX_USAGE, "unknown type %s (mla, "
				    "extradition, confiscation, transfer, "
				    "joint_investigation, other)", optarg);
			break;
		case O_URGENT:
			s->urgent = 1;
			break;
		case O_CASE:
			s->case_ref = optarg;
			break;
		case O_BASIS:
			s->basis = optarg;
			break;
		case O_LANG:
			s->lang = optarg;
			break;
		case O_SUBJECT:
			s->subject = optarg;
			break;
		case O_THEIR:
			s->their_ref = optarg;
			break;
		case O_REPLY:
			if (!cli_id_ok(optarg))
				return EX_USAGE;
			s->reply_to = optarg;
			break;
		case O_EXPIRES:
			if (out_parse_duration(optarg, &d) != 0 || d == 0 ||
			    d > INT64_MAX - cli_now_ns())
				return cli_fail(EX_USAGE, "bad duration %s "
				    "(e.g. 30m, 2h, 1d)", optarg);
			s->expires_at_ns = cli_now_ns() + d;
			break;
		case O_KEY:
			s->idempotency_key = optarg;
			break;
		case O_BATCH:
			*batch = optarg;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (*batch != NULL) {
		if (fields == 0 && optind >= argc)
			return -1;
		cli_fail(EX_USAGE, "--batch takes every request from its file: "
		    "no other request option and no document may be given");
		return cli_usage();
	}
	if (s->to == NULL || s->type == 0) {
		cli_fail(EX_USAGE, "--to and --type are required");
		return cli_usage();
	}
	if (optind >= argc) {
		cli_fail(EX_USAGE, "no documents given");
		return cli_usage();
	}
	return -1;
}

/*
 * After an urgent submit to a counterpart outside its office hours, say
 * so on stderr with its urgent procedure, so that the officer also
 * phones.  Stdout keeps only the id.
 */
static void
urgent_note(comity_conn *conn, const char *to)
{
	struct comity_dir_entry		*ents = NULL;
	const struct comity_dir_entry	*e = NULL;
	struct office			 o;
	char				 clock[32];
	size_t				 i, n = 0;
	int				 rc;

	if ((rc = comity_directory(conn, &ents, &n)) != 0) {
		fprintf(stderr, "comity: submit: could not check the office "
		    "hours of %s: %s\n", to, comity_strerror(rc));
		return;
	}
	for (i = 0; i < n && e == NULL; i++)
		if (strcmp(ents[i].id, to) == 0)
			e = &ents[i];
	if (e == NULL || e->hours[0] == '\0')
		goto out;
	office_eval(e->timezone, e->hours, cli_now_ns(), &o);
	if (o.state == OFFICE_OPEN)
		goto out;
	out_text(stderr, to);
	if (o.state == OFFICE_CLOSED) {
		office_fmt_clock(&o.local, clock, sizeof(clock));
		fprintf(stderr, " is outside office hours (%s ", clock);
		out_text(stderr, e->timezone);
		fputs(")", stderr);
	} else {
		fputs(": office hours cannot be checked (", stderr);
		out_text(stderr, o.why);
		fputs(")", stderr);
	}
	fputs(": urgent procedure: ", stderr);
	out_text(stderr, e->urgent[0] != '\0' ? e->urgent :
	    "none given in the directory");
	fputc('\n', stderr);
out:
	comity_free(ents);
}

/* ------------------------------------------------------------ batches */

/* The longest line of a batch file. */
#define BATCH_LINE_MAX	(1u << 20)

/* One request of a batch file. */
struct batch_req {
	size_t		  line;		/* in the file, from 1 */
	json_t		 *obj;		/* the line: the request's strings */
	json_t		 *files;	/* its "files" array, borrowed */
	struct comity_doc *docs;
	char		**names;	/* base name buffers of docs */
};

struct batch {
	const char			*path;	/* for messages */
	size_t				 n;
	int64_t				 now;	/* for "expires" */
	struct comity_submit		 s[COMITY_BATCH_MAX];
	struct batch_req		 r[COMITY_BATCH_MAX];
	struct comity_submit_result	 res[COMITY_BATCH_MAX];
};

enum batch_kind { BK_STR, BK_TYPE, BK_BOOL, BK_ID, BK_DURATION, BK_FILES };

/* The fields of a request line: the submit options' names. */
static const struct {
	const char	*name;
	enum batch_kind	 kind;
	size_t		 off;		/* BK_STR, BK_ID: in comity_submit */
} batch_keys[] = {
	{ "to", BK_STR, offsetof(struct comity_submit, to) },
	{ "type", BK_TYPE, 0 },
	{ "urgent", BK_BOOL, 0 },
	{ "case", BK_STR, offsetof(struct comity_submit, case_ref) },
	{ "basis", BK_STR, offsetof(struct comity_submit, basis) },
	{ "lang", BK_STR, offsetof(struct comity_submit, lang) },
	{ "subject", BK_STR, offsetof(struct comity_submit, subject) },
	{ "their_ref", BK_STR, offsetof(struct comity_submit, their_ref) },
	{ "reply_to", BK_ID, offsetof(struct comity_submit, reply_to) },
	{ "expires", BK_DURATION, 0 },
	{ "key", BK_STR, offsetof(struct comity_submit, idempotency_key) },
	{ "files", BK_FILES, 0 },
};
#define NBATCH_KEYS	(sizeof(batch_keys) / sizeof(batch_keys[0]))

/* V as a C string: a JSON string without NUL bytes, else NULL. */
static const char *
json_cstr(const json_t *v)
{
	const char	*p;

	if (!json_is_string(v))
		return NULL;
	p = json_string_value(v);
	return strlen(p) == json_string_length(v) ? p : NULL;
}

static int
hex_id(const char *p)
{
	size_t	i;

	for (i = 0; p[i] != '\0'; i++)
		if (!isxdigit((unsigned char)p[i]))
			return 0;
	return i == 32;
}

/* Field K (batch_keys[K]) of request I is V.  -1, or an exit status. */
static int
batch_field(struct batch *b, size_t i, size_t k, json_t *v)
{
	struct comity_submit	*s = &b->s[i];
	const char		*name = batch_keys[k].name, *p = json_cstr(v);
	size_t			 line = b->r[i].line, j;
	int64_t			 d;

	switch (batch_keys[k].kind) {
	case BK_STR:
	case BK_ID:
		if (p == NULL)
			return cli_fail(EX_DATAERR, "%s:%zu: %s: a string "
			    "without NUL bytes expected", b->path, line, name);
		if (batch_keys[k].kind == BK_ID && !hex_id(p))
			return cli_fail(EX_DATAERR, "%s:%zu: %s: invalid "
			    "request id (32 hexadecimal digits expected)",
			    b->path, line, name);
		*(const char **)(void *)((char *)s + batch_keys[k].off) = p;
		break;
	case BK_TYPE:
		if (p == NULL || (s->type = comity_type_from_name(p)) < 0)
			return cli_fail(EX_DATAERR, "%s:%zu: type: mla, "
			    "extradition, confiscation, transfer, "
			    "joint_investigation or other expected", b->path,
			    line);
		break;
	case BK_BOOL:
		if (!json_is_boolean(v))
			return cli_fail(EX_DATAERR, "%s:%zu: %s: true or false "
			    "expected", b->path, line, name);
		s->urgent = json_is_true(v);
		break;
	case BK_DURATION:
		if (p == NULL || out_parse_duration(p, &d) != 0 || d == 0 ||
		    d > INT64_MAX - b->now)
			return cli_fail(EX_DATAERR, "%s:%zu: expires: a "
			    "duration expected (e.g. 30m, 2h, 1d)", b->path,
			    line);
		s->expires_at_ns = b->now + d;
		break;
	case BK_FILES:
		if (!json_is_array(v) || json_array_size(v) == 0)
			return cli_fail(EX_DATAERR, "%s:%zu: files: a list of "
			    "one or more file names expected", b->path, line);
		for (j = 0; j < json_array_size(v); j++)
			if (json_cstr(json_array_get(v, j)) == NULL)
				return cli_fail(EX_DATAERR, "%s:%zu: files: "
				    "file %zu is not a string without NUL "
				    "bytes", b->path, line, j + 1);
		b->r[i].files = v;
		break;
	}
	return -1;
}

/* Request I from the JSON text LINE (LEN bytes).  -1, or an exit status. */
static int
batch_line(struct batch *b, size_t i, const char *line, size_t len)
{
	struct batch_req	*r = &b->r[i];
	json_error_t		 jerr;
	const char		*key;
	json_t			*v;
	size_t			 k;
	int			 st;

	r->obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (r->obj == NULL)
		return cli_fail(EX_DATAERR, "%s:%zu: %s", b->path, r->line,
		    jerr.text);
	if (!json_is_object(r->obj))
		return cli_fail(EX_DATAERR, "%s:%zu: a JSON object expected",
		    b->path, r->line);
	json_object_foreach(r->obj, key, v) {
		for (k = 0; k < NBATCH_KEYS; k++)
			if (strcmp(key, batch_keys[k].name) == 0)
				break;
		if (k == NBATCH_KEYS) {
			char	*e = out_escape(key, 1);

			st = cli_fail(EX_DATAERR, "%s:%zu: unknown field %s "
			    "(to, type, urgent, case, basis, lang, subject, "
			    "their_ref, reply_to, expires, key, files)",
			    b->path, r->line, e != NULL ? e : "");
			free(e);
			return st;
		}
		if ((st = batch_field(b, i, k, v)) != -1)
			return st;
	}
	if (b->s[i].to == NULL || b->s[i].type == 0 || r->files == NULL)
		return cli_fail(EX_DATAERR, "%s:%zu: to, type and files are "
		    "required", b->path, r->line);
	return -1;
}

/*
 * The next line of FP, without its newline, into BUF (BATCH_LINE_MAX
 * bytes): its length, -1 at the end of the file, -2 when the line is
 * longer than that.
 */
static long
batch_getline(FILE *fp, char *buf)
{
	size_t	n = 0;
	int	ch;

	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (n == BATCH_LINE_MAX)
			return -2;
		buf[n++] = (char)ch;
	}
	if (ch == EOF && n == 0)
		return -1;
	return (long)n;
}

static int
blank(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/* Every request line of FP into B.  -1, or an exit status. */
static int
batch_parse(struct batch *b, FILE *fp)
{
	char	*line;
	size_t	 lineno = 0;
	long	 len;
	int	 st = -1;

	if ((line = malloc(BATCH_LINE_MAX)) == NULL)
		return cli_fail(EX_OSERR, "out of memory");
	while (st == -1 && (len = batch_getline(fp, line)) != -1) {
		lineno++;
		if (len == -2) {
			st = cli_fail(EX_DATAERR, "%s:%zu: line longer than %u "
			    "bytes", b->path, lineno, BATCH_LINE_MAX);
			break;
		}
		if (blank(line, (size_t)len))
			continue;
		if (b->n == COMITY_BATCH_MAX) {
			st = cli_fail(EX_DATAERR, "%s: more than %d requests: "
			    "at most %d in one batch", b->path,
			    COMITY_BATCH_MAX, COMITY_BATCH_MAX);
			break;
		}
		b->r[b->n].line = lineno;
		st = batch_line(b, b->n, line, (size_t)len);
		b->n++;
	}
	if (st == -1 && ferror(fp))
		st = cli_fail(EX_IOERR, "%s: %s", b->path, strerror(errno));
	if (st == -1 && b->n == 0)
		st = cli_fail(EX_DATAERR, "%s: no requests", b->path);
	free(line);
	return st;
}

/*
 * Read the documents of every request of B, as a single submit reads its
 * FILE arguments.  -1, or an exit status.
 */
static int
batch_read_docs(struct batch *b)
{
	struct batch_req	*r;
	uint64_t		 total = 0;
	size_t			 i, j, k, n;
	int			 st;

	for (i = 0; i < b->n; i++) {
		r = &b->r[i];
		n = json_array_size(r->files);
		r->docs = calloc(n, sizeof(*r->docs));
		r->names = calloc(n, sizeof(*r->names));
		if (r->docs == NULL || r->names == NULL)
			return cli_fail(EX_OSERR, "out of memory");
		for (j = 0; j < n; j++) {
			if ((st = read_doc(json_string_value(json_array_get(
			    r->files, j)), &r->docs[j], &r->names[j])) != EX_OK)
				return st;
			b->s[i].ndocs = j + 1;
			for (k = 0; k < j; k++)
				if (strcmp(r->docs[k].name, r->docs[j].name) ==
				    0)
					return cli_fail(EX_DATAERR, "%s:%zu: "
					    "two documents are named %s",
					    b->path, r->line, r->docs[j].name);
			/* the whole batch travels in one frame */
			total += r->docs[j].len;
			if (total > FILE_MAX)
				return cli_fail(EX_DATAERR, "%s: the documents "
				    "of the batch are larger than %u bytes: "
				    "split it", b->path, FILE_MAX);
		}
		b->s[i].docs = r->docs;
	}
	return -1;
}

/* Print the result of request I; a failed one also on stderr. */
static void
batch_print(const struct batch *b, size_t i)
{
	const struct comity_submit_result	*res = &b->res[i];

	if (res->error != 0)
		cli_fail(cli_exit_code(res->error), "%s:%zu: %s", b->path,
		    b->r[i].line, res->message);
	if (cli.json)
		out_line(stdout, json_pack("{s:I, s:o, s:b, s:o}", "line",
		    (json_int_t)b->r[i].line, "id", res->error == 0 ?
		    json_string(res->id) : json_null(), "existed",
		    res->existed, "error", res->error == 0 ? json_null() :
		    out_jstr(res->message)));
	else
		printf("%s\n", res->error == 0 ? res->id : "-");
}

/*
 * After the batch: the urgent note of each counterpart that was sent an
 * urgent request, once.
 */
static void
batch_urgent_notes(comity_conn *conn, const struct batch *b)
{
	size_t	i, j;

	for (i = 0; i < b->n; i++) {
		if (!b->s[i].urgent || b->res[i].error != 0)
			continue;
		for (j = 0; j < i; j++)
			if (b->s[j].urgent && b->res[j].error == 0 &&
			    strcmp(b->s[j].to, b->s[i].to) == 0)
				break;
		if (j == i)
			urgent_note(conn, b->s[i].to);
	}
}

static void
batch_free(struct batch *b)
{
	size_t	i, j;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->s[i].ndocs; j++) {
			free((void *)(uintptr_t)b->r[i].docs[j].data);
			free(b->r[i].names[j]);
		}
		free(b->r[i].docs);
		free(b->r[i].names);
		json_decref(b->r[i].obj);
	}
	free(b);
}

/* comity submit --batch PATH ("-": standard input) */
static int
submit_batch(const char *path)
{
	struct batch	*b;
	comity_conn	*conn = NULL;
	FILE		*fp;
	size_t		 i;
	int		 rc, st, first = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return cli_fail(EX_OSERR, "out of memory");
	b->path = strcmp(path, "-") == 0 ? "stdin" : path;
	b->now = cli_now_ns();
	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "re")) == NULL) {
		st = cli_fail(EX_NOINPUT, "%s: %s", path, strerror(errno));
		goto out;
	}
	st = batch_parse(b, fp);
	if (fp != stdin)
		fclose(fp);
	if (st != -1 || (st = batch_read_docs(b)) != -1 ||
	    (st = cli_connect(&conn)) != 0)
		goto out;
	if ((rc = comity_submit_batch(conn, b->s, b->n, b->res)) != 0) {
		st = cli_error(conn, rc, NULL);
		goto out;
	}
	for (i = 0; i < b->n; i++) {
		batch_print(b, i);
		if (b->res[i].error != 0 && first == 0)
			first = b->res[i].error;
	}
	fflush(stdout);
	batch_urgent_notes(conn, b);
	st = first != 0 ? cli_exit_code(first) : EX_OK;
out:
	comity_close(conn);
	batch_free(b);
	return st;
}

int
cmd_submit(int argc, char **argv)
{
	struct comity_submit	 s;
	struct comity_doc	*docs = NULL;
	comity_conn		*conn = NULL;
	const char		*batch = NULL;
	char			 id[33], **names = NULL;
	size_t			 i, j, n = 0;
	int			 rc, existed, st;

	memset(&s, 0, sizeof(s));
	if ((st = submit_opts(argc, argv, &s, &batch)) != -1)
		return st;
	if (batch != NULL)
		return submit_batch(batch);
	n = (size_t)(argc - optind);
	docs = calloc(n, sizeof(*docs));
	names = calloc(n, sizeof(*names));
	if (docs == NULL || names == NULL) {
		st = cli_fail(EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((st = read_doc(argv[optind + (int)i], &docs[i],
		    &names[i])) != EX_OK)
			goto out;
		for (j = 0; j < i; j++)
			if (strcmp(docs[j].name, docs[i].name) == 0) {
				st = cli_fail(EX_DATAERR, "two documents are "
				    "named %s", docs[i].name);
				goto out;
			}
	}
	s.docs = docs;
	s.ndocs = n;
	if ((st = cli_connect(&conn)) != 0)
		goto out;
	if ((rc = comity_submit(conn, &s, id, &existed)) != 0) {
		st = cli_error(conn, rc, NULL);
		goto out;
	}
	if (cli.json)
		out_line(stdout, json_pack("{s:s, s:b}", "id", id, "existed",
		    existed));
	else
		printf("%s\n", id);
	fflush(stdout);
	if (s.urgent)
		urgent_note(conn, s.to);
	st = EX_OK;
out:
	comity_close(conn);
	for (i = 0; docs != NULL && i < n; i++) {
		free((void *)(uintptr_t)docs[i].data);
		free(names[i]);
	}
	free(docs);
	free(names);
	return st;
}
