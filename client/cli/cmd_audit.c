/*
 * cmd_audit.c - comity audit export, comity audit verify.
 *
 * export streams records as the daemon pages them, one line each (JSON
 * Lines or RFC 4180 CSV), holding one page at most.  verify asks the
 * daemon to walk its chain, or with --store walks a store directory
 * itself, read-only, with the daemon's own rules (auditchain.c): the way
 * to check a store whose daemon is stopped, or a copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/evp.h>

#include "auditfile.h"
#include "cli.h"
#include "output.h"

#define HASH_HEX	65

static void
hexs(const uint8_t *p, size_t n, char *out)
{
	static const char	hexd[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexd[p[i] >> 4];
		out[2 * i + 1] = hexd[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* parse_hash - 64 hex digits into 32 bytes; 0 or -1 */
static int
parse_hash(const char *s, uint8_t out[32])
{
	size_t	i;
	int	hi, lo;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if ((hi = hexval(s[2 * i])) < 0 ||
		    (lo = hexval(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ------------------------------------------------------------ export */

struct export_state {
	int		 csv;
	int		 failed;
};

/* detail_sha256 - what the chain hashes of the detail, in hex */
static int
detail_sha256(const char *detail, char out[HASH_HEX])
{
	unsigned char	d[32];
	unsigned int	n = 0;

	if (EVP_Digest(detail, strlen(detail), d, &n, EVP_sha256(), NULL) != 1
	    || n != 32)
		return -1;
	hexs(d, 32, out);
	return 0;
}

static json_t *
rec_json(const struct comity_audit_record *r, const char *dsha)
{
	char	t[OUT_TIME_NS_LEN], ph[HASH_HEX], h[HASH_HEX];

	out_time_ns(r->time, t);
	hexs(r->prev_hash, 32, ph);
	hexs(r->hash, 32, h);
	return json_pack("{s:I, s:s, s:I, s:o, s:i, s:o, s:o, s:o, s:o, s:s, "
	    "s:s, s:s}",
	    "seq", (json_int_t)r->seq,
	    "time", t,
	    "time_ns", (json_int_t)r->time,
	    "event", out_jstr(r->event_name),
	    "event_code", r->event,
	    "message_id", r->message_id[0] != '\0' ?
	    json_string(r->message_id) : json_null(),
	    "peer", r->peer[0] != '\0' ? out_jstr(r->peer) : json_null(),
	    "uid", r->uid == COMITY_AUDIT_NO_UID ? json_null() :
	    json_integer((json_int_t)r->uid),
	    "detail", out_jstr(r->detail),
	    "detail_sha256", dsha,
	    "prev_hash", ph,
	    "hash", h);
}

/* csv_field - S as one RFC 4180 field, then a comma or the line's end */
static int
csv_field(FILE *fp, const char *s, int last)
{
	const char	*p;
	char		*e = out_escape(s, 0);
	int		 rc = 0;

	if (e == NULL)
		return -1;
	if (strpbrk(e, ",\"\r\n") != NULL) {
		fputc('"', fp);
		for (p = e; *p != '\0'; p++) {
			if (*p == '"')
				fputc('"', fp);
			fputc(*p, fp);
		}
		fputc('"', fp);
	} else
		fputs(e, fp);
	if (fputs(last ? "\r\n" : ",", fp) == EOF)
		rc = -1;
	free(e);
	return rc;
}

static const char *const csv_header[] = {
	"seq", "time", "time_ns", "event", "event_code", "message_id", "peer",
	"uid", "detail", "detail_sha256", "prev_hash", "hash",
};
#define CSV_COLUMNS	(sizeof(csv_header) / sizeof(csv_header[0]))

static int
rec_csv(FILE *fp, const struct comity_audit_record *r, const char *dsha)
{
	char		 t[OUT_TIME_NS_LEN], ph[HASH_HEX], h[HASH_HEX];
	char		 seq[24], ns[24], ev[12], uid[12];
	const char	*col[CSV_COLUMNS];
	size_t		 i;

	out_time_ns(r->time, t);
	hexs(r->prev_hash, 32, ph);
	hexs(r->hash, 32, h);
	snprintf(seq, sizeof(seq), "%" PRIu64, r->seq);
	snprintf(ns, sizeof(ns), "%" PRId64, r->time);
	snprintf(ev, sizeof(ev), "%d", r->event);
	if (r->uid == COMITY_AUDIT_NO_UID)
		uid[0] = '\0';
	else
		snprintf(uid, sizeof(uid), "%" PRIu32, r->uid);
	col[0] = seq;
	col[1] = t;
	col[2] = ns;
	col[3] = r->event_name;
	col[4] = ev;
	col[5] = r->message_id;
	col[6] = r->peer;
	col[7] = uid;
	col[8] = r->detail;
	col[9] = dsha;
	col[10] = ph;
	col[11] = h;
	for (i = 0; i < CSV_COLUMNS; i++)
		if (csv_field(fp, col[i], i + 1 == CSV_COLUMNS) != 0)
			return -1;
	return 0;
}

static int
export_cb(const struct comity_audit_record *r, void *arg)
{
	struct export_state	*es = arg;
	char			 dsha[HASH_HEX];

	if (detail_sha256(r->detail, dsha) != 0 ||
	    (es->csv ? rec_csv(stdout, r, dsha) :
	    out_line(stdout, rec_json(r, dsha))) != 0) {
		es->failed = 1;
		return 1;
	}
	return 0;
}

static int
audit_export(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "id", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct comity_audit_filter	 f;
	struct export_state		 es;
	comity_conn			*conn;
	int64_t				 now = cli_now_ns();
	size_t				 i;
	int				 c, rc, st;

	memset(&f, 0, sizeof(f));
	memset(&es, 0, sizeof(es));
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (out_parse_time(optarg, now, c == 's' ? &f.since_ns :
			    &f.until_ns) != 0 || (c == 's' ? f.since_ns :
			    f.until_ns) <= 0)
				return cli_fail(EX_USAGE, "bad time %s (RFC 3339, "
				    "a date, or a duration such as 2h)", optarg);
			break;
		case 'i':
			if (!cli_id_ok(optarg))
				return EX_USAGE;
			f.id = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				es.csv = 1;
			else if (strcmp(optarg, "jsonl") == 0)
				es.csv = 0;
			else
				return cli_fail(EX_USAGE, "unknown format %s "
				    "(jsonl or csv)", optarg);
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (optind != argc)
		return cli_usage();
	if (f.since_ns != 0 && f.until_ns != 0 && f.until_ns <= f.since_ns)
		return cli_fail(EX_USAGE, "--until must be after --since");
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if (es.csv)
		for (i = 0; i < CSV_COLUMNS; i++)
			csv_field(stdout, csv_header[i], i + 1 == CSV_COLUMNS);
	rc = comity_audit_export(conn, &f, export_cb, &es);
	if (es.failed)
		st = cli_fail(EX_IOERR, "cannot write a record: %s",
		    ferror(stdout) ? strerror(errno) : "encoding failed");
	else if (rc != 0)
		st = cli_error(conn, rc, NULL);
	comity_close(conn);
	return st;
}

/* ------------------------------------------------------------ verify */

static int
verify_report(const struct comity_audit_result *r, int broken)
{
	char	h[HASH_HEX];
	json_t	*o;

	hexs(r->head_hash, 32, h);
	if (cli.json) {
		o = json_pack("{s:b, s:I, s:o, s:o, s:I, s:s, s:b, s:I, s:o}",
		    "ok", !broken,
		    "count", (json_int_t)r->count,
		    "bad_seq", broken ? json_integer((json_int_t)r->bad_seq) :
		    json_null(),
		    "reason", broken ? out_jstr(r->reason) : json_null(),
		    "head_seq", (json_int_t)r->head_seq,
		    "head_hash", h,
		    "witnessed", r->witnessed != 0,
		    "time_regressions", (json_int_t)r->time_regressions,
		    "first_regression_seq", r->first_regression_seq != 0 ?
		    json_integer((json_int_t)r->first_regression_seq) :
		    json_null());
		if (out_line(stdout, o) != 0)
			return cli_fail(EX_SOFTWARE, "cannot encode the result");
	} else if (broken && r->bad_seq == 0) {
		printf("audit chain broken before seq 1: ");
		out_text(stdout, r->reason);
		putchar('\n');
	} else if (broken) {
		printf("audit chain broken at seq %" PRIu64 ": ", r->bad_seq);
		out_text(stdout, r->reason);
		putchar('\n');
	} else {
		printf("audit chain intact: %" PRIu64 " records, head seq %"
		    PRIu64 " hash %s\n", r->count, r->head_seq, h);
		if (r->witnessed)
			printf("witness found in the chain\n");
	}
	if (!cli.json && r->time_regressions > 0)
		fprintf(stderr, "comity: audit: warning: %" PRIu64 " record(s) "
		    "older than the one before, first at seq %" PRIu64 " (the "
		    "clock was set back?)\n", r->time_regressions,
		    r->first_regression_seq);
	return broken ? EX_DATAERR : EX_OK;
}

/* The offline walk's result as libcomity reports the daemon's. */
static void
result_from(struct comity_audit_result *out, const struct audit_result *in)
{
	memset(out, 0, sizeof(*out));
	out->ok = in->ok;
	out->count = in->count;
	out->bad_seq = in->bad_seq;
	snprintf(out->reason, sizeof(out->reason), "%s", in->reason);
	out->head_seq = in->head_seq;
	memcpy(out->head_hash, in->head_hash, 32);
	out->witnessed = in->witnessed;
	out->time_regressions = in->regressions;
	out->first_regression_seq = in->first_regression;
}

static int
verify_store(const char *dir, const struct comity_audit_witness *cw)
{
	struct audit_witness		 w;
	struct audit_result		 res;
	struct comity_audit_result	 out;
	char				 err[512];
	int				 rc;

	if (cw != NULL) {
		w.seq = cw->seq;
		memcpy(w.hash, cw->hash, 32);
	}
	rc = audit_verify_dir(dir, cw != NULL ? &w : NULL, &res, err,
	    sizeof(err));
	if (rc != 0 && !(rc == COMITY_ECORRUPT && res.reason[0] != '\0'))
		return cli_fail(rc == COMITY_ECORRUPT ? EX_DATAERR :
		    rc == COMITY_ENOTFOUND || rc == COMITY_EINVAL ? EX_NOINPUT :
		    rc == COMITY_EPERM ? EX_NOPERM : rc == COMITY_ENOMEM ?
		    EX_OSERR : EX_IOERR, "%s", err[0] != '\0' ? err :
		    comity_strerror(rc));
	result_from(&out, &res);
	return verify_report(&out, rc != 0);
}

static int
audit_verify(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "witness-seq", required_argument, NULL, 'q' },
		{ "witness-hash", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct comity_audit_witness	 w;
	struct comity_audit_result	 res;
	comity_conn			*conn;
	const char			*store = NULL;
	char				*end;
	int				 c, rc, st, has_seq = 0, has_hash = 0;

	memset(&w, 0, sizeof(w));
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'q':
			errno = 0;
			w.seq = strtoull(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    errno != 0)
				return cli_fail(EX_USAGE, "bad witness seq %s",
				    optarg);
			has_seq = 1;
			break;
		case 'w':
			if (parse_hash(optarg, w.hash) != 0)
				return cli_fail(EX_USAGE, "bad witness hash (64 "
				    "hexadecimal digits expected)");
			has_hash = 1;
			break;
		case 'h':
			return cli_help();
		default:
			return cli_usage();
		}
	}
	if (optind != argc)
		return cli_usage();
	if (has_seq != has_hash)
		return cli_fail(EX_USAGE, "a witness needs both --witness-seq "
		    "and --witness-hash");
	if (store != NULL)
		return verify_store(store, has_seq ? &w : NULL);
	if ((st = cli_connect(&conn)) != 0)
		return st;
	rc = comity_audit_verify(conn, has_seq ? &w : NULL, &res);
	if (rc != 0 && !(rc == COMITY_ECORRUPT && res.reason[0] != '\0')) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	return verify_report(&res, rc != 0);
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return audit_export(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return cli_help();
	if (argc >= 2)
		cli_fail(EX_USAGE, "unknown audit command %s (export or "
		    "verify)", argv[1]);
	return cli_usage();
}
