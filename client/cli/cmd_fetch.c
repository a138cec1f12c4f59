/*
 * cmd_fetch.c - comity fetch, ack, cancel, receipt, export: commands that name
 * one request and act on it.
 *
 * fetch writes documents under names a counterpart chose, so every name is
 * checked before anything is written, nothing existing is overwritten, and
 * a failure removes what this run created.  Files are synced before the
 * command reports success, since the next step is usually `comity ack`.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

#define REQUEST_JSON	"request.json"

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create NAME in DFD (never replacing anything), write, sync, close. */
static int
create_file(int dfd, const char *name, const uint8_t *p, size_t len,
    mode_t mode)
{
	int	fd, e;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (write_all(fd, p, len) == -1 || fsync(fd) == -1) {
		e = errno;
		close(fd);
		unlinkat(dfd, name, 0);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int
fail_name(const char *dir, const char *name, int status, const char *why)
{
	char	*e = out_escape(name, 1);

	cli_fail(status, "%s/%s: %s", dir, e != NULL ? e : "?", why);
	free(e);
	return status;
}

/* Check every name before writing anything. */
static int
check_names(const struct comity_request *rq, int dfd, const char *dir)
{
	struct stat	 st;
	const char	*why;
	size_t		 i, j;

	for (i = 0; i < rq->ndocs; i++) {
		const char *n = rq->docs[i].name;

		if ((why = out_name_problem(n)) != NULL)
			return fail_name(dir, n, EX_DATAERR, why);
		if (strcmp(n, REQUEST_JSON) == 0)
			return fail_name(dir, n, EX_DATAERR, "a document has "
			    "the name of the request file");
		for (j = 0; j < i; j++)
			if (strcmp(rq->docs[j].name, n) == 0)
				return fail_name(dir, n, EX_DATAERR, "two "
				    "documents have this name");
		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return fail_name(dir, n, EX_CANTCREAT, "exists; not "
			    "overwritten");
	}
	if (fstatat(dfd, REQUEST_JSON, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return fail_name(dir, REQUEST_JSON, EX_CANTCREAT, "exists; not "
		    "overwritten");
	return EX_OK;
}

static void
sha256_hex(const uint8_t *p, size_t len, char out[65])
{
	unsigned char		md[32];
	unsigned int		mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		out[0] = '\0';
		return;
	}
	wire_hex(md, 32, out);
}

static int
open_outdir(const char *dir, int *dfd)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return cli_fail(EX_CANTCREAT, "%s: %s", dir, strerror(errno));
	if ((*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return cli_fail(EX_CANTCREAT, "%s: %s", dir, strerror(errno));
	return EX_OK;
}

/*
 * Write the documents and request.json, then sync the directory; on
 * failure remove what this run created.  *META gets request.json's
 * object.
 */
static int
write_request(const struct comity_request *rq, int dfd, const char *dir,
    json_t **meta)
{
	char		(*sums)[65] = NULL;
	const char	**sump = NULL;
	char		*js = NULL, *buf = NULL;
	size_t		 i, made = 0, jl;
	int		 st = EX_OK, jsmade = 0;

	*meta = NULL;
	sums = calloc(rq->ndocs + 1, sizeof(*sums));
	sump = calloc(rq->ndocs + 1, sizeof(*sump));
	if (sums == NULL || sump == NULL) {
		st = cli_fail(EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < rq->ndocs; i++) {
		sha256_hex(rq->docs[i].data, rq->docs[i].len, sums[i]);
		sump[i] = sums[i];
	}
	if ((*meta = out_request_json(rq, sump)) == NULL ||
	    (js = json_dumps(*meta, JSON_INDENT(2))) == NULL ||
	    (buf = malloc((jl = strlen(js)) + 2)) == NULL) {
		st = cli_fail(EX_SOFTWARE, "cannot encode %s", REQUEST_JSON);
		goto out;
	}
	memcpy(buf, js, jl);
	buf[jl++] = '\n';
	for (made = 0; made < rq->ndocs; made++)
		if (create_file(dfd, rq->docs[made].name, rq->docs[made].data,
		    rq->docs[made].len, 0600) == -1) {
			st = fail_name(dir, rq->docs[made].name, EX_CANTCREAT,
			    strerror(errno));
			goto out;
		}
	if (create_file(dfd, REQUEST_JSON, (const uint8_t *)buf, jl, 0600) ==
	    -1) {
		st = fail_name(dir, REQUEST_JSON, EX_CANTCREAT, strerror(errno));
		goto out;
	}
	jsmade = 1;
	if (fsync(dfd) == -1) {
		st = cli_fail(EX_IOERR, "%s: %s", dir, strerror(errno));
		goto out;
	}
out:
	if (st != EX_OK) {
		while (made > 0)
			unlinkat(dfd, rq->docs[--made].name, 0);
		if (jsmade)
			unlinkat(dfd, REQUEST_JSON, 0);
		json_decref(*meta);
		*meta = NULL;
	}
	free(buf);
	free(js);
	free(sums);
	free(sump);
	return st;
}

/*
 * id_out_args - the arguments of `COMMAND ID --out PATH`.  Returns -1
 * with *id and *out set, or the exit status (usage, help).
 */
static int
id_out_args(int argc, char **argv, const char **id, const char **out)
{
	static const struct option	opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int				c;

	*out = NULL;
	while ((c = cli_getopt(argc, argv, "o:h", opts)) != -1) {
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (argc - optind != 1 || *out == NULL)
		return cli_usage();
	*id = argv[optind];
	return cli_id_ok(*id) ? -1 : EX_USAGE;
}

int
cmd_fetch(int argc, char **argv)
{
	struct comity_request	*rq = NULL;
	comity_conn		*conn = NULL;
	const char		*dir, *id;
	json_t			*meta = NULL;
	size_t			 i;
	int			 rc, st, dfd = -1;

	if ((st = id_out_args(argc, argv, &id, &dir)) != -1)
		return st;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_fetch(conn, id, &rq)) != 0) {
		st = cli_error(conn, rc, NULL);
		goto out;
	}
	if ((st = open_outdir(dir, &dfd)) != EX_OK ||
	    (st = check_names(rq, dfd, dir)) != EX_OK ||
	    (st = write_request(rq, dfd, dir, &meta)) != EX_OK)
		goto out;
	if (cli.json) {
		out_line(stdout, meta);
		meta = NULL;
	} else {
		for (i = 0; i < rq->ndocs; i++) {
			out_text(stdout, dir);
			fputc('/', stdout);
			out_text(stdout, rq->docs[i].name);
			fputc('\n', stdout);
		}
		out_text(stdout, dir);
		printf("/%s\n", REQUEST_JSON);
	}
out:
	json_decref(meta);
	if (dfd != -1)
		close(dfd);
	comity_request_free(rq);
	comity_close(conn);
	return st;
}

static int
id_command(int argc, char **argv, int (*fn)(comity_conn *, const char *),
    const char *state)
{
	comity_conn	*conn;
	const char	*id;
	int		 rc, st;

	if ((st = cli_id_arg(argc, argv, &id)) != -1)
		return st;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = fn(conn, id)) != 0)
		st = cli_error(conn, rc, NULL);
	else if (cli.json)
		out_line(stdout, json_pack("{s:s, s:s}", "id", id, "state",
		    state));
	comity_close(conn);
	return st;
}

int
cmd_ack(int argc, char **argv)
{
	return id_command(argc, argv, comity_ack, "RETRIEVED");
}

int
cmd_cancel(int argc, char **argv)
{
	return id_command(argc, argv, comity_cancel, "CANCELLED");
}

/* write_out - LEN bytes to file OUT (never overwritten) or stdout ("-") */
static int
write_out(const char *out, const uint8_t *p, size_t len)
{
	if (strcmp(out, "-") == 0) {
		if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0)
			return cli_fail(EX_IOERR, "stdout: %s", strerror(errno));
	} else if (create_file(AT_FDCWD, out, p, len, 0644) == -1)
		return cli_fail(EX_CANTCREAT, "%s: %s", out, errno == EEXIST ?
		    "exists; not overwritten" : strerror(errno));
	return EX_OK;
}

int
cmd_receipt(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	comity_conn	*conn;
	const char	*out = NULL, *id;
	uint8_t		*der = NULL;
	size_t		 len;
	int		 c, rc, st, kind = COMITY_RECEIPT_DELIVERED;

	while ((c = cli_getopt(argc, argv, "k:o:h", opts)) != -1) {
		switch (c) {
		case 'k':
			if (strcmp(optarg, "delivered") == 0 ||
			    strcmp(optarg, "rejected") == 0)
				kind = COMITY_RECEIPT_DELIVERED;
			else if (strcmp(optarg, "retrieved") == 0)
				kind = COMITY_RECEIPT_RETRIEVED;
			else
				return cli_fail(EX_USAGE, "unknown receipt kind "
				    "%s (delivered, retrieved)", optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (argc - optind != 1 || out == NULL)
		return cli_usage();
	id = argv[optind];
	if (!cli_id_ok(id))
		return EX_USAGE;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_receipt(conn, id, kind, &der, &len)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	if ((st = write_out(out, der, len)) == EX_OK && cli.json)
		out_line(stdout, json_pack("{s:s, s:s, s:o, s:I}", "id", id,
		    "kind", kind == COMITY_RECEIPT_RETRIEVED ? "retrieved" :
		    "delivered", "out", out_jstr(out), "bytes", (json_int_t)len));
	comity_free(der);
	return st;
}

int
cmd_export(int argc, char **argv)
{
	comity_conn	*conn;
	const char	*out, *id;
	uint8_t		*der = NULL;
	size_t		 len;
	int		 rc, st;

	if ((st = id_out_args(argc, argv, &id, &out)) != -1)
		return st;
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_sealed(conn, id, &der, &len)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	if ((st = write_out(out, der, len)) == EX_OK && cli.json)
		out_line(stdout, json_pack("{s:s, s:o, s:I}", "id", id,
		    "out", out_jstr(out), "bytes", (json_int_t)len));
	comity_free(der);
	return st;
}
