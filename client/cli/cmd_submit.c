/*
 * cmd_submit.c - comity submit: read the files, queue the request.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
	O_THEIR, O_REPLY, O_EXPIRES, O_KEY };

/* Parse the options into S; returns -1 to go on, else an exit status. */
static int
submit_opts(int argc, char **argv, struct comity_submit *s)
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
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t	d;
	int	c;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
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
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
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

int
cmd_submit(int argc, char **argv)
{
	struct comity_submit	 s;
	struct comity_doc	*docs = NULL;
	comity_conn		*conn = NULL;
	char			 id[33], **names = NULL;
	size_t			 i, j, n = 0;
	int			 rc, existed, st;

	memset(&s, 0, sizeof(s));
	if ((st = submit_opts(argc, argv, &s)) != -1)
		return st;
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
