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
#include <openssl/x509.h>

#include "auditfile.h"
#include "comity.pb-c.h"
#include "wire.h"
#include "cli.h"
#include "output.h"

#define HASH_HEX	65

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
	wire_hex(d, 32, out);
	return 0;
}

static json_t *
rec_json(const struct comity_audit_record *r, const char *dsha)
{
	char	t[OUT_TIME_NS_LEN], ph[HASH_HEX], h[HASH_HEX];

	out_time_ns(r->time, t);
	wire_hex(r->prev_hash, 32, ph);
	wire_hex(r->hash, 32, h);
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
	wire_hex(r->prev_hash, 32, ph);
	wire_hex(r->hash, 32, h);
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
	size_t				 i;
	int				 c, rc, st;

	memset(&f, 0, sizeof(f));
	memset(&es, 0, sizeof(es));
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (!cli_time_ok(optarg, c == 's' ? &f.since_ns :
			    &f.until_ns, 1))
				return EX_USAGE;
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

	wire_hex(r->head_hash, 32, h);
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
		if (o != NULL)
			json_object_set_new(o, "checkpoints",
			    json_integer((json_int_t)r->checkpoints));
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
		if (r->checkpoints > 0)
			printf("checkpoints: %" PRIu64 " signed, all match the "
			    "chain, the last signs seq %" PRIu64 "\n",
			    r->checkpoints, r->last_checkpoint_seq);
	}
	if (!cli.json && r->time_regressions > 0)
		fprintf(stderr, "comity: audit: warning: time goes back at "
		    "seq %" PRIu64 "; %" PRIu64 " record(s) older than the one "
		    "before (the clock was set back?)\n",
		    r->first_regression_seq, r->time_regressions);
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
	out->checkpoints = in->checkpoints;
	out->last_checkpoint_seq = in->last_checkpoint;
}

/* ------------------------------------------------------------ witness */

/* read_file - the whole of PATH (at most 1 MiB), malloc'd */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	*fp;
	uint8_t	*buf;
	size_t	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	buf = malloc(1 << 20);
	n = buf != NULL ? fread(buf, 1, 1 << 20, fp) : 0;
	if (buf == NULL || ferror(fp) || n == 0 || n == 1 << 20) {
		free(buf);
		fclose(fp);
		errno = buf == NULL ? ENOMEM : EINVAL;
		return NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

static X509_STORE *
load_ca(const char *path)
{
	X509_STORE	*st;

	if ((st = X509_STORE_new()) == NULL)
		return NULL;
	if (X509_STORE_load_file(st, path) != 1) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

/*
 * witness_load - the head a signed file holds: one of our receipts
 * (ReceiptContent: issuer_audit_seq, issuer_audit_head) or one of our
 * checkpoints.  The signature is checked (against TRUST, or the embedded
 * certificate).  0, or an exit status after saying why.
 */
static int
witness_load(const char *path, X509_STORE *trust,
    struct comity_audit_witness *w, char *what, size_t whatlen)
{
	Comity__ReceiptContent	*rc;
	char			 id[AUDIT_AUTHORITY_MAX + 1], err[256];
	char			 signer[AUDIT_AUTHORITY_MAX + 1];
	uint8_t			*der, *text;
	size_t			 dlen, tlen;
	int			 st;
	int64_t			 t;

	if ((der = read_file(path, &dlen)) == NULL)
		return cli_fail(EX_NOINPUT, "%s: %s", path, strerror(errno));
	text = audit_cms_open(der, dlen, trust, &tlen, signer, err,
	    sizeof(err));
	free(der);
	if (text == NULL)
		return cli_fail(EX_DATAERR, "%s: %s", path, err);
	if (audit_checkpoint_parse((const char *)text, tlen, id, &w->seq,
	    w->hash, &t) == 0) {
		if (strcmp(signer, id) != 0) {
			free(text);
			return cli_fail(EX_DATAERR, "%s: a checkpoint of %s "
			    "signed by %s", path, id, signer[0] != '\0' ?
			    signer : "no authority");
		}
		snprintf(what, whatlen, "checkpoint of %s", id);
		free(text);
		return 0;
	}
	rc = wire_unpack(&comity__receipt_content__descriptor, text, tlen);
	free(text);
	if (rc == NULL || rc->issuer_audit_head.len != AUDIT_HASH_LEN) {
		wire_free(rc);
		return cli_fail(EX_DATAERR, "%s: neither a receipt with an "
		    "audit head nor an audit checkpoint", path);
	}
	if (rc->to == NULL || strcmp(signer, rc->to) != 0) {
		st = cli_fail(EX_DATAERR, "%s: a receipt issued by %s but "
		    "signed by %s", path, rc->to != NULL ? rc->to : "?",
		    signer[0] != '\0' ? signer : "no authority");
		wire_free(rc);
		return st;
	}
	w->seq = rc->issuer_audit_seq;
	memcpy(w->hash, rc->issuer_audit_head.data, AUDIT_HASH_LEN);
	snprintf(what, whatlen, "receipt issued by %s", rc->to != NULL ?
	    rc->to : "?");
	wire_free(rc);
	return 0;
}

static void
witness_report(const struct comity_audit_witness *w, const char *what,
    int matched)
{
	char	h[HASH_HEX];

	if (cli.json)
		return;
	wire_hex(w->hash, 32, h);
	printf("witness seq %" PRIu64 " hash %s (%s): %s\n", w->seq, h, what,
	    matched ? "matches" : "does not match: the chain was altered or "
	    "truncated");
}

/* ------------------------------------------------------------ checkpoint */

static int
audit_checkpoint(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	comity_conn	*conn;
	const char	*outp = NULL;
	char		 id[AUDIT_AUTHORITY_MAX + 1], err[256], h[HASH_HEX];
	char		 signer[AUDIT_AUTHORITY_MAX + 1];
	uint8_t		*der, *text, hash[32];
	size_t		 len, tlen;
	uint64_t	 seq;
	int64_t		 t;
	FILE		*fp;
	int		 c, rc, st;

	while ((c = cli_getopt(argc, argv, "o:h", opts)) != -1) {
		switch (c) {
		case 'o':
			outp = optarg;
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
	if ((rc = comity_audit_checkpoint(conn, &der, &len)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	text = audit_cms_open(der, len, NULL, &tlen, signer, err, sizeof(err));
	if (text == NULL || audit_checkpoint_parse((const char *)text, tlen,
	    id, &seq, hash, &t) != 0) {
		free(text);
		free(der);
		return cli_fail(EX_PROTOCOL, "the daemon's checkpoint does not "
		    "check: %s", text == NULL ? err : "malformed text");
	}
	free(text);
	if (outp != NULL) {
		if ((fp = fopen(outp, "wb")) == NULL ||
		    fwrite(der, 1, len, fp) != len || fclose(fp) != 0) {
			free(der);
			return cli_fail(EX_CANTCREAT, "%s: %s", outp,
			    strerror(errno));
		}
	}
	free(der);
	wire_hex(hash, 32, h);
	if (cli.json) {
		if (out_line(stdout, json_pack("{s:s, s:I, s:s, s:I}",
		    "authority", id, "seq", (json_int_t)seq, "hash", h,
		    "time_ns", (json_int_t)t)) != 0)
			return cli_fail(EX_SOFTWARE, "cannot encode the result");
	} else
		printf("checkpoint of %s: seq %" PRIu64 " hash %s\n", id, seq,
		    h);
	return EX_OK;
}

static int
verify_store(const char *dir, const struct comity_audit_witness *cw,
    X509_STORE *trust)
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
	rc = audit_verify_dir_trust(dir, cw != NULL ? &w : NULL, trust, &res,
	    err, sizeof(err));
	if (rc != 0 && !(rc == COMITY_ECORRUPT && res.reason[0] != '\0'))
		return cli_fail(rc == COMITY_ECORRUPT ? EX_DATAERR :
		    rc == COMITY_ENOTFOUND || rc == COMITY_EINVAL ? EX_NOINPUT :
		    rc == COMITY_EPERM ? EX_NOPERM : rc == COMITY_ENOMEM ?
		    EX_OSERR : EX_IOERR, "%s", err[0] != '\0' ? err :
		    comity_strerror(rc));
	result_from(&out, &res);
	if (!cli.json && out.checkpoints > 0 && trust == NULL)
		printf("checkpoint signatures checked against their embedded "
		    "certificates only: give --ca FILE to check them against "
		    "the CA\n");
	return verify_report(&out, rc != 0);
}

static int
audit_verify(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "witness-seq", required_argument, NULL, 'q' },
		{ "witness-hash", required_argument, NULL, 'w' },
		{ "witness", required_argument, NULL, 'W' },
		{ "ca", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct comity_audit_witness	 w;
	struct comity_audit_result	 res;
	comity_conn			*conn;
	const char			*store = NULL, *wfile = NULL;
	const char			*ca = NULL;
	X509_STORE			*trust = NULL;
	char				*end, what[128];
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
			if (wire_hex_parse(optarg, w.hash, 32) != 0)
				return cli_fail(EX_USAGE, "bad witness hash (64 "
				    "hexadecimal digits expected)");
			has_hash = 1;
			break;
		case 'W':
			wfile = optarg;
			break;
		case 'c':
			ca = optarg;
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
	if (wfile != NULL && has_seq)
		return cli_fail(EX_USAGE, "--witness and --witness-seq/hash "
		    "exclude each other");
	if (ca != NULL && (trust = load_ca(ca)) == NULL)
		return cli_fail(EX_NOINPUT, "%s: cannot load CA certificates",
		    ca);
	if (wfile != NULL) {
		if ((st = witness_load(wfile, trust, &w, what,
		    sizeof(what))) != 0) {
			X509_STORE_free(trust);
			return st;
		}
		has_seq = 1;
	}
	if (store != NULL) {
		st = verify_store(store, has_seq ? &w : NULL, trust);
		X509_STORE_free(trust);
		if (wfile != NULL)
			witness_report(&w, what, st == EX_OK);
		return st;
	}
	X509_STORE_free(trust);
	if ((st = cli_connect(&conn)) != 0)
		return st;
	rc = comity_audit_verify(conn, has_seq ? &w : NULL, &res);
	if (rc != 0 && !(rc == COMITY_ECORRUPT && res.reason[0] != '\0')) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	comity_close(conn);
	st = verify_report(&res, rc != 0);
	if (wfile != NULL)
		witness_report(&w, what, rc == 0 && res.witnessed);
	return st;
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return audit_export(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "checkpoint") == 0)
		return audit_checkpoint(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return cli_help();
	if (argc >= 2)
		cli_fail(EX_USAGE, "unknown audit command %s (export, "
		    "verify or checkpoint)", argv[1]);
	return cli_usage();
}
