/*
 * crypto.c - the crypto scenario: the machine's CMS rates, per core, with
 * the daemon's own seal.c and the benchmark's PKI (TARGETS.md "reference
 * figures"): seal (SignedData + AuthEnvelopedData to one recipient) and
 * open (decrypt + verify against the sender's certificate and the CA) of
 * SIZE bytes (and 1 MiB), a receipt signature and its verification, and
 * the crypto ceiling they imply for two daemons sharing this machine:
 *
 *   crypto_ceiling_msgs_s = cores / (1/seal + 1/open + 1/sign + 1/verify)
 *
 * Each operation runs for CRYPTO_SECONDS of CPU-bound work (or COUNT
 * times, whichever comes first), on one thread.
 *
 * Then the one-core time of the other work every 1 MiB document needs on
 * its way, whichever daemon does it, for T4's floor (target.c):
 * sha256_1m_ms, hashing it (each side names the sealed body's SHA-256 in
 * the receipt, SPEC §4); tls_1m_ms, encrypting and decrypting it in TLS
 * 1.3 records of 16 KiB with AES-256-GCM, the daemons' first cipher
 * suite; socket_1m_ms, writing it into a local socket and reading it out
 * (it crosses two: the client's to the sender, the link's to the
 * receiver).  Each for FLOOR_SECONDS.
 */
#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench.h"
#include "seal.h"

#define CRYPTO_SECONDS		1.0
#define CRYPTO_BIG		(1 << 20)
#define CRYPTO_HEAP_KEEP	(32 << 20)	/* see crypto_run() */
#define RECEIPT_LEN		220	/* a ReceiptContent, about */
#define FLOOR_SECONDS		0.5
#define TLS_RECORD		16384	/* TLS 1.3's largest plaintext */
#define TLS_TAG			16
#define SOCK_CHUNK		65536	/* fits a local socket's buffer */

struct party {
	struct seal_keys	 k;
};

static X509 *
read_cert(const char *path)
{
	FILE	*fp;
	X509	*x;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return x;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE		*fp;
	EVP_PKEY	*k;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	return k;
}

/* The keys of ID in the benchmark's PKI, trusting its CA as comityd does. */
static int
party_load(const struct bench *b, const char *id, struct party *p)
{
	char	path[PATH_MAX + AUTH_ID_MAX + 8];

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/%s.pem", b->pki, id);
	p->k.cert = read_cert(path);
	snprintf(path, sizeof(path), "%s/%s.key", b->pki, id);
	p->k.key = read_key(path);
	snprintf(path, sizeof(path), "%s/ca.pem", b->pki);
	if ((p->k.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(p->k.trust, path) != 1 ||
	    X509_STORE_set_flags(p->k.trust, X509_V_FLAG_X509_STRICT) != 1 ||
	    p->k.cert == NULL || p->k.key == NULL) {
		bench_log("crypto: cannot load the keys of %s from %s", id,
		    b->pki);
		return -1;
	}
	return 0;
}

static void
party_free(struct party *p)
{
	X509_free(p->k.cert);
	EVP_PKEY_free(p->k.key);
	X509_STORE_free(p->k.trust);
}

enum op { OP_SEAL, OP_OPEN, OP_SIGN, OP_VERIFY };

struct rate_args {
	enum op			 op;
	const struct party	*from, *to;
	const uint8_t		*in;
	size_t			 len;
	long long		 max;
};

/* ops per second of one operation, or -1 */
static double
rate(const struct rate_args *r)
{
	uint8_t		*out;
	size_t		 olen;
	char		 err[256];
	int64_t		 start = now_ns(), t = start;
	long long	 n = 0;

	while (n < r->max && (double)(t - start) / 1e9 < CRYPTO_SECONDS) {
		switch (r->op) {
		case OP_SEAL:
			out = seal_request(&r->from->k, r->to->k.cert, r->in,
			    r->len, &olen, err, sizeof(err));
			break;
		case OP_OPEN:
			out = seal_open(&r->to->k, r->from->k.cert, r->in,
			    r->len, &olen, err, sizeof(err));
			break;
		case OP_SIGN:
			out = seal_sign(&r->to->k, r->in, r->len, &olen, err,
			    sizeof(err));
			break;
		default:
			out = seal_verify(&r->from->k, r->to->k.cert, r->in,
			    r->len, &olen, err, sizeof(err));
			break;
		}
		if (out == NULL) {
			bench_log("crypto: %s", err);
			return -1;
		}
		free(out);
		n++;
		t = now_ns();
		if (bench_interrupted)
			return -1;
	}
	return (double)n / ((double)(t - start) / 1e9);
}

/* seal/s and open/s for LEN bytes into OUT as seal_per_s_TAG, ... */
static int
seal_open_rates(const struct party *a, const struct party *b, size_t len,
    long long max, const char *tag, json_t *out, double *seal_s,
    double *open_s)
{
	struct rate_args	 r;
	uint8_t			*plain, *sealed;
	size_t			 slen;
	char			 err[256], key[64];

	if ((plain = bench_doc(len)) == NULL)
		return -1;
	memset(&r, 0, sizeof(r));
	r.op = OP_SEAL;
	r.from = a;
	r.to = b;
	r.in = plain;
	r.len = len;
	r.max = max;
	*seal_s = rate(&r);
	sealed = seal_request(&a->k, b->k.cert, plain, len, &slen, err,
	    sizeof(err));
	free(plain);
	if (*seal_s < 0 || sealed == NULL)
		return -1;
	r.op = OP_OPEN;
	r.in = sealed;
	r.len = slen;
	*open_s = rate(&r);
	free(sealed);
	if (*open_s < 0)
		return -1;
	snprintf(key, sizeof(key), "seal_per_s_%s", tag);
	json_object_set_new(out, key, json_real(stats_round(*seal_s, 1)));
	snprintf(key, sizeof(key), "open_per_s_%s", tag);
	json_object_set_new(out, key, json_real(stats_round(*open_s, 1)));
	return 0;
}

/* ------------------------------------------------- T4's other work */

struct doc_work {
	uint8_t		*doc;		/* CRYPTO_BIG bytes */
	uint8_t		*rec;		/* one record and its tag */
	EVP_CIPHER_CTX	*enc, *dec;
	int		 sv[2];		/* a socket pair */
};

/* the sealed body's SHA-256, as each side computes it */
static int
hash_doc(struct doc_work *w)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	n;

	return EVP_Digest(w->doc, CRYPTO_BIG, md, &n, EVP_sha256(), NULL) ==
	    1 ? 0 : -1;
}

/* each record sealed as TLS 1.3 does (header as additional data, the
 * content type after the content), then opened and its tag checked */
static int
tls_doc(struct doc_work *w)
{
	const unsigned char hdr[5] = { 23, 3, 3,
	    (TLS_RECORD + 1 + TLS_TAG) >> 8, (TLS_RECORD + 1 + TLS_TAG) & 0xff };
	unsigned char	iv[12];
	size_t		off;
	int		n, m;

	memset(iv, 0, sizeof(iv));
	for (off = 0; off < CRYPTO_BIG; off += TLS_RECORD) {
		iv[11] = (unsigned char)(off / TLS_RECORD);
		memcpy(w->rec, w->doc + off, TLS_RECORD);
		w->rec[TLS_RECORD] = 23;
		if (EVP_EncryptInit_ex(w->enc, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(w->enc, NULL, &n, hdr, sizeof(hdr)) !=
		    1 || EVP_EncryptUpdate(w->enc, w->rec, &n, w->rec,
		    TLS_RECORD + 1) != 1 ||
		    EVP_EncryptFinal_ex(w->enc, w->rec + n, &m) != 1 ||
		    EVP_CIPHER_CTX_ctrl(w->enc, EVP_CTRL_AEAD_GET_TAG, TLS_TAG,
		    w->rec + TLS_RECORD + 1) != 1)
			return -1;
		if (EVP_DecryptInit_ex(w->dec, NULL, NULL, NULL, iv) != 1 ||
		    EVP_DecryptUpdate(w->dec, NULL, &n, hdr, sizeof(hdr)) !=
		    1 || EVP_DecryptUpdate(w->dec, w->rec, &n, w->rec,
		    TLS_RECORD + 1) != 1 ||
		    EVP_CIPHER_CTX_ctrl(w->dec, EVP_CTRL_AEAD_SET_TAG, TLS_TAG,
		    w->rec + TLS_RECORD + 1) != 1 ||
		    EVP_DecryptFinal_ex(w->dec, w->rec + n, &m) != 1)
			return -1;
	}
	return 0;
}

/* all of LEN bytes through FD, by write (DIR 1) or read (0) */
static int
sock_all(int fd, uint8_t *buf, size_t len, int dir)
{
	ssize_t	n;

	while (len > 0) {
		n = dir ? write(fd, buf, len) : read(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* the document written into a socket and read out of it */
static int
sock_doc(struct doc_work *w)
{
	size_t	off;

	for (off = 0; off < CRYPTO_BIG; off += SOCK_CHUNK)
		if (sock_all(w->sv[0], w->doc + off, SOCK_CHUNK, 1) == -1 ||
		    sock_all(w->sv[1], w->rec, SOCK_CHUNK, 0) == -1)
			return -1;
	return 0;
}

/*
 * the milliseconds of CPU of one FN(W), or -1: this thread's CPU clock,
 * not the wall clock, since a share of a busy machine's time goes to
 * others and the floor counts only the work itself
 */
static double
doc_ms(int (*fn)(struct doc_work *), struct doc_work *w, const char *what)
{
	int64_t		start = now_ns(), c0 = thread_cpu_ns();
	long long	n = 0;

	while ((double)(now_ns() - start) / 1e9 < FLOOR_SECONDS) {
		if (fn(w) == -1) {
			bench_log("crypto: %s failed", what);
			return -1;
		}
		n++;
		if (bench_interrupted)
			return -1;
	}
	return (double)(thread_cpu_ns() - c0) / 1e6 / (double)n;
}

/* sha256_1m_ms, tls_1m_ms, socket_1m_ms into OUT; 0, or -1 with none */
static int
doc_work_ms(json_t *out)
{
	static const struct {
		const char	*key;
		const char	*what;
		int		(*fn)(struct doc_work *);
	} ops[] = {
		{ "sha256_1m_ms", "SHA-256 of 1 MiB", hash_doc },
		{ "tls_1m_ms", "TLS records of 1 MiB", tls_doc },
		{ "socket_1m_ms", "1 MiB through a socket", sock_doc },
	};
	struct doc_work	 w;
	unsigned char	 key[32];
	double		 ms[sizeof(ops) / sizeof(ops[0])];
	size_t		 i;
	int		 rc = -1, sndbuf = 2 * SOCK_CHUNK;

	memset(&w, 0, sizeof(w));
	w.sv[0] = w.sv[1] = -1;
	memset(key, 0x3c, sizeof(key));
	w.doc = bench_doc(CRYPTO_BIG);
	w.rec = malloc(SOCK_CHUNK > TLS_RECORD + 1 + TLS_TAG ? SOCK_CHUNK :
	    TLS_RECORD + 1 + TLS_TAG);
	w.enc = EVP_CIPHER_CTX_new();
	w.dec = EVP_CIPHER_CTX_new();
	if (w.doc == NULL || w.rec == NULL || w.enc == NULL || w.dec == NULL ||
	    EVP_EncryptInit_ex(w.enc, EVP_aes_256_gcm(), NULL, key, NULL) !=
	    1 || EVP_DecryptInit_ex(w.dec, EVP_aes_256_gcm(), NULL, key,
	    NULL) != 1) {
		bench_log("crypto: cannot set up the 1 MiB work");
		goto out;
	}
	/* room for a chunk whatever the system's default: one thread
	 * writes it, then reads it */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, w.sv) == -1 ||
	    setsockopt(w.sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1) {
		bench_log("crypto: socket pair: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if ((ms[i] = doc_ms(ops[i].fn, &w, ops[i].what)) < 0)
			goto out;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		json_object_set_new(out, ops[i].key,
		    json_real(stats_round(ms[i], 3)));
	rc = 0;
out:
	if (w.sv[0] != -1)
		close(w.sv[0]);
	if (w.sv[1] != -1)
		close(w.sv[1]);
	EVP_CIPHER_CTX_free(w.enc);
	EVP_CIPHER_CTX_free(w.dec);
	free(w.doc);
	free(w.rec);
	return rc;
}

int
crypto_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct party		 pa, pb;
	struct rate_args	 r;
	uint8_t			 rc_content[RECEIPT_LEN], *sig = NULL;
	size_t			 slen;
	double			 seal_s, open_s, seal_big, open_big, sign_s,
				 verify_s, ceiling, ceiling_big;
	long			 cores = sysconf(_SC_NPROCESSORS_ONLN);
	char			 err[256];
	int			 rc = -1;

	(void)net;
	if (party_load(b, "XA-SENDER", &pa) == -1 ||
	    party_load(b, "XB-RECEIVER", &pb) == -1)
		goto out;
	if (cores < 1)
		cores = 1;
	/*
	 * The reference is the CMS work, not the allocator's: left to
	 * itself, glibc sometimes hands a 1 MiB operation's buffers back to
	 * the system after each one and sometimes keeps them, depending on
	 * what the heap held before, and opening 1 MiB measured 121-157/s
	 * or 330/s from one invocation to the next.  With the heap kept,
	 * it is the best this machine does, every time.  (comityd keeps
	 * buffers of up to 4 MiB but hands its heap back every 250 ms, for
	 * its footprint: what that costs is part of what T4 measures.)
	 */
	(void)mallopt(M_MMAP_THRESHOLD, CRYPTO_HEAP_KEEP);
	(void)mallopt(M_TRIM_THRESHOLD, 2 * CRYPTO_HEAP_KEEP);
	bench_log("crypto run %u: seal and open of %lld bytes and 1 MiB, "
	    "receipts", a->run, a->size);
	if (seal_open_rates(&pa, &pb, (size_t)a->size, a->count, "small",
	    out, &seal_s, &open_s) == -1 ||
	    seal_open_rates(&pa, &pb, CRYPTO_BIG, a->count, "1m", out,
	    &seal_big, &open_big) == -1)
		goto out;
	memset(rc_content, 0x5a, sizeof(rc_content));
	memset(&r, 0, sizeof(r));
	r.op = OP_SIGN;
	r.from = &pa;
	r.to = &pb;
	r.in = rc_content;
	r.len = sizeof(rc_content);
	r.max = a->count;
	if ((sign_s = rate(&r)) < 0)
		goto out;
	if ((sig = seal_sign(&pb.k, rc_content, sizeof(rc_content), &slen,
	    err, sizeof(err))) == NULL) {
		bench_log("crypto: %s", err);
		goto out;
	}
	r.op = OP_VERIFY;
	r.in = sig;
	r.len = slen;
	if ((verify_s = rate(&r)) < 0)
		goto out;
	ceiling = (double)cores / (1 / seal_s + 1 / open_s + 1 / sign_s +
	    1 / verify_s);
	ceiling_big = (double)cores / (1 / seal_big + 1 / open_big +
	    1 / sign_s + 1 / verify_s);
	json_object_set_new(out, "size", json_integer(a->size));
	json_object_set_new(out, "receipt_sign_per_s",
	    json_real(stats_round(sign_s, 1)));
	json_object_set_new(out, "receipt_verify_per_s",
	    json_real(stats_round(verify_s, 1)));
	json_object_set_new(out, "cores", json_integer(cores));
	json_object_set_new(out, "crypto_ceiling_msgs_s",
	    json_real(stats_round(ceiling, 1)));
	json_object_set_new(out, "crypto_ceiling_mb_s_1m",
	    json_real(stats_round(ceiling_big * CRYPTO_BIG / 1e6, 2)));
	/* without them only T4's floor is missing, not the reference */
	if (doc_work_ms(out) == -1) {
		if (bench_interrupted)
			goto out;
		bench_log("crypto: no floor for documents in this run");
	}
	rc = 0;
out:
	free(sig);
	party_free(&pa);
	party_free(&pb);
	return rc;
}
