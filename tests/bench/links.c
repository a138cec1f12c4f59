/*
 * links.c - the links scenario (T6 of shared/TARGETS.md): the memory of
 * one daemon holding COUNT idle authenticated peer links.
 *
 * COUNT authorities of our own (XL-0000, XL-0001, ...) get a key and a
 * certificate from the benchmark's demo CA, made here with the OpenSSL
 * API as certs/mkpki makes them (ECDSA P-256, the single URI SAN
 * urn:comity:authority:<ID>), and an entry in the directory of a network
 * where only the receiver runs, with [limits] max_connections raised to
 * COUNT + LINKS_SPARE and idle_timeout to a day.  Then LINKS_THREADS
 * threads of ours act as those authorities: each connects, completes the
 * TLS 1.3 handshake (its certificate, ALPN comity/1), sends the peer
 * protocol's Hello and reads the daemon's, and keeps the link open and
 * idle.  Fewer handshakes run at once than the daemon lets wait
 * (MAX_UNAUTH_CONNECTIONS, daemon/bounds.h).
 *
 * The daemon's own view decides that the links are up: comity_peers()
 * must list every one of our authorities as up.  When it cannot (its
 * answer for a directory this large is refused by the library), the
 * daemon's log says it instead: a "peer=ID: up (inbound)" line not
 * followed by a "peer=ID: down" line, for every one of ours.  After
 * LINKS_HOLD_MS its memory is read (VmRSS, VmHWM, RssAnon), beside its
 * RSS before the first link; then the links are closed and the daemon
 * stopped.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench.h"
#include "frame.h"
#include "wire.h"

#define LINKS_MAX		4000	/* directory: DIRECTORY_MAX 4096 */
#define LINKS_SPARE		64	/* connections and files beyond */
#define LINKS_THREADS		16	/* handshakes at once */
#define LINKS_IO_TIMEOUT_S	10
#define LINKS_UP_WAIT_MS	30000
#define LINKS_HOLD_MS		2000
#define LINKS_POLL_MS		100
#define LINKS_PROGRESS_MS	2000
#define LINKS_FRAME_MAX		(64u << 10)	/* a Hello is far smaller */
#define LINKS_CERT_DAYS		825
#define LINKS_ID_FMT		"XL-%04u"
#define LINKS_ID_PREFIX		"XL-"
#define URI_PREFIX		"urn:comity:authority:"
#define ALPN_WIRE		"\x08" "comity/1"

/* One authority of ours and its link. */
struct link_auth {
	char		 id[AUTH_ID_MAX];
	X509		*cert;
	EVP_PKEY	*key;
	SSL		*ssl;		/* NULL: no link */
	int		 fd;
};

struct links {
	const struct run_args	*args;
	struct daemon		*d;		/* the daemon holding them */
	struct link_auth	*a;
	unsigned		 n;
	SSL_CTX			*ctx;
	int64_t			 deadline;	/* monotonic ns */
	int			 stop;		/* (atomic) */
	unsigned		 opened;	/* (atomic) */
	pthread_mutex_t		 lock;		/* bench_log from threads */
	int			 by_log;	/* count from the log */
	uint8_t			*seen;		/* by_log: up, by index */
};

struct opener {
	struct links	*lk;
	pthread_t	 thread;
	unsigned	 first;
	int		 rc;
};

/* The first OpenSSL error, drained. */
static const char *
ssl_err(char *buf, size_t len)
{
	unsigned long	e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "%s", errno != 0 ? strerror(errno) :
		    "no detail");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* ------------------------------------------------------------ PKI */

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*ext;
	int		 rc;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* A certificate for A->id with A->key, issued by CA as mkpki does. */
static X509 *
cert_make(struct link_auth *a, X509 *ca, EVP_PKEY *cakey)
{
	X509		*x;
	X509V3_CTX	 ctx;
	BIGNUM		*serial = NULL;
	char		 san[sizeof("URI:" URI_PREFIX) + AUTH_ID_MAX];
	int		 ok = 0;

	if ((x = X509_new()) == NULL || (serial = BN_new()) == NULL)
		goto out;
	snprintf(san, sizeof(san), "URI:%s%s", URI_PREFIX, a->id);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)a->id, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), LINKS_CERT_DAYS, 0,
	    NULL) == NULL ||
	    X509_set_pubkey(x, a->key) != 1)
		goto out;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, &ctx, NID_key_usage,
	    "critical,digitalSignature,keyAgreement") ||
	    add_ext(x, &ctx, NID_ext_key_usage,
	    "serverAuth,clientAuth,emailProtection") ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    add_ext(x, &ctx, NID_subject_alt_name, san))
		goto out;
	if (X509_sign(x, cakey, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	BN_free(serial);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static void *
pem_read(const char *path, int key)
{
	FILE	*fp;
	void	*v;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	v = key ? (void *)PEM_read_PrivateKey(fp, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return v;
}

/* Keys and certificates of our N authorities, the certificates written
 * to NET's directory for the daemon's directory file. */
static int
links_pki(const struct bench *b, struct links *lk, const struct net *net,
    FILE *dirf)
{
	char		 path[PATH_MAX + 64], err[256];
	X509		*ca;
	EVP_PKEY	*cakey;
	FILE		*fp;
	unsigned	 i;
	int		 rc = -1;

	snprintf(path, sizeof(path), "%s/ca.pem", b->pki);
	ca = pem_read(path, 0);
	snprintf(path, sizeof(path), "%s/ca.key", b->pki);
	cakey = pem_read(path, 1);
	if (ca == NULL || cakey == NULL) {
		bench_log("links: cannot read the CA of %s", b->pki);
		goto out;
	}
	for (i = 0; i < lk->n; i++) {
		struct link_auth *a = &lk->a[i];

		if (bench_interrupted)
			goto out;
		if ((a->key = EVP_EC_gen("P-256")) == NULL ||
		    (a->cert = cert_make(a, ca, cakey)) == NULL) {
			bench_log("links: certificate of %s: %s", a->id,
			    ssl_err(err, sizeof(err)));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s.pem", net->dir, a->id);
		if ((fp = fopen(path, "w")) == NULL) {
			bench_log("%s: %s", path, strerror(errno));
			goto out;
		}
		if (PEM_write_X509(fp, a->cert) != 1) {
			fclose(fp);
			bench_log("write %s failed", path);
			goto out;
		}
		if (fclose(fp) == EOF) {
			bench_log("write %s: %s", path, strerror(errno));
			goto out;
		}
		fprintf(dirf, "[%s]\nname = benchmark link %u\n"
		    "endpoint = 127.0.0.1:%d\ncert = %s\naccepts = mla\n\n",
		    a->id, i, net->d[NET_SENDER].port, path);
	}
	rc = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

/* Our authorities in NET's directory, before the daemon starts. */
static int
links_directory(const struct bench *b, struct links *lk,
    const struct net *net)
{
	FILE	*f;
	int	 rc;

	if ((f = fopen(net->directory, "a")) == NULL) {
		bench_log("%s: %s", net->directory, strerror(errno));
		return -1;
	}
	rc = links_pki(b, lk, net, f);
	if (ferror(f))
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	if (rc == -1 && !bench_interrupted)
		bench_log("links: cannot write %s", net->directory);
	return rc;
}

/* ------------------------------------------------------------ links */

static SSL_CTX *
client_ctx(const struct bench *b)
{
	SSL_CTX	*ctx;
	char	 path[PATH_MAX + 16], err[256];

	snprintf(path, sizeof(path), "%s/ca.pem", b->pki);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_file(ctx, path) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)ALPN_WIRE,
	    sizeof(ALPN_WIRE) - 1) != 0) {
		bench_log("links: TLS context: %s", ssl_err(err, sizeof(err)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/* Exactly LEN bytes from SSL; 0 or -1. */
static int
ssl_read_full(SSL *ssl, uint8_t *buf, size_t len)
{
	size_t	got;

	while (len > 0) {
		if (SSL_read_ex(ssl, buf, len, &got) != 1)
			return -1;
		buf += got;
		len -= got;
	}
	return 0;
}

/* Send our Hello, read the daemon's; NULL or why not. */
static const char *
hello_exchange(SSL *ssl, const char *self, const char *peer)
{
	Comity__Frame	 f = COMITY__FRAME__INIT, *in;
	Comity__Hello	 h = COMITY__HELLO__INIT;
	struct timespec	 ts;
	uint8_t		 hdr[FRAME_HEADER_LEN], *buf;
	size_t		 len, wrote;
	uint32_t	 flen;
	const char	*why = NULL;
	int		 ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	h.authority_id = (char *)self;
	h.software = (char *)"comity-bench";
	h.now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	f.msg_case = COMITY__FRAME__MSG_HELLO;
	f.hello = &h;
	if ((buf = wire_pack(&f.base, 1, &len)) == NULL)
		return "out of memory";
	ok = SSL_write_ex(ssl, buf, len, &wrote) == 1 && wrote == len;
	free(buf);
	if (!ok)
		return "cannot send Hello";
	if (ssl_read_full(ssl, hdr, sizeof(hdr)) == -1)
		return "no Hello from the daemon (refused?)";
	if (frame_length(hdr, LINKS_FRAME_MAX, &flen) != 0)
		return "bad frame length from the daemon";
	if ((buf = malloc(flen)) == NULL)
		return "out of memory";
	if (ssl_read_full(ssl, buf, flen) == -1) {
		free(buf);
		return "short frame from the daemon";
	}
	in = wire_unpack(&comity__frame__descriptor, buf, flen);
	free(buf);
	if (in == NULL || in->msg_case != COMITY__FRAME__MSG_HELLO ||
	    in->hello->authority_id == NULL ||
	    strcmp(in->hello->authority_id, peer) != 0)
		why = "the daemon's first frame is not its Hello";
	wire_free(in);
	return why;
}

/* Link I: connect, handshake, Hello; 0 or -1 (and why). */
static int
link_open(struct links *lk, unsigned i)
{
	struct link_auth	*a = &lk->a[i];
	struct sockaddr_in	 sin;
	struct timeval		 tv;
	const char		*why = NULL;
	char			 err[256];
	int			 on = 1;

	tv.tv_sec = LINKS_IO_TIMEOUT_S;
	tv.tv_usec = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)lk->d->port);
	if ((a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(a->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) ||
	    connect(a->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		snprintf(err, sizeof(err), "connect: %s", strerror(errno));
		why = err;
	} else if ((a->ssl = SSL_new(lk->ctx)) == NULL ||
	    SSL_use_certificate(a->ssl, a->cert) != 1 ||
	    SSL_use_PrivateKey(a->ssl, a->key) != 1 ||
	    SSL_set_fd(a->ssl, a->fd) != 1 ||
	    SSL_connect(a->ssl) != 1)
		why = ssl_err(err, sizeof(err));
	else
		why = hello_exchange(a->ssl, a->id, lk->d->id);
	if (why == NULL)
		return 0;
	pthread_mutex_lock(&lk->lock);
	if (!__atomic_exchange_n(&lk->stop, 1, __ATOMIC_RELAXED) &&
	    !bench_interrupted)
		bench_log("links: link of %s: %s", a->id, why);
	pthread_mutex_unlock(&lk->lock);
	return -1;
}

static int
links_stopped(struct links *lk)
{
	return bench_interrupted || now_ns() > lk->deadline ||
	    __atomic_load_n(&lk->stop, __ATOMIC_RELAXED);
}

static void *
opener_main(void *arg)
{
	struct opener	*o = arg;
	struct links	*lk = o->lk;
	unsigned	 i;

	for (i = o->first; i < lk->n; i += LINKS_THREADS) {
		if (links_stopped(lk) || link_open(lk, i) == -1) {
			o->rc = -1;
			break;
		}
		__atomic_add_fetch(&lk->opened, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Open every link from LINKS_THREADS threads; 0 or -1. */
static int
links_open(struct links *lk, struct net *net)
{
	struct opener	o[LINKS_THREADS];
	int64_t		last = now_ns();
	unsigned	i, started = 0;
	int		rc = 0;

	memset(o, 0, sizeof(o));
	for (i = 0; i < LINKS_THREADS && i < lk->n; i++) {
		o[i].lk = lk;
		o[i].first = i;
		if (pthread_create(&o[i].thread, NULL, opener_main,
		    &o[i]) != 0) {
			bench_log("links: cannot start an opening thread");
			__atomic_store_n(&lk->stop, 1, __ATOMIC_RELAXED);
			rc = -1;
			break;
		}
		started++;
	}
	while (__atomic_load_n(&lk->opened, __ATOMIC_RELAXED) < lk->n &&
	    !links_stopped(lk)) {
		if (net_check(net) != 0) {
			__atomic_store_n(&lk->stop, 1, __ATOMIC_RELAXED);
			break;
		}
		if (now_ns() - last >= (int64_t)LINKS_PROGRESS_MS * 1000000) {
			last = now_ns();
			bench_log("links run %u: %u of %u links open",
			    lk->args->run, __atomic_load_n(&lk->opened,
			    __ATOMIC_RELAXED), lk->n);
		}
		sleep_ms(10);
	}
	for (i = 0; i < started; i++) {
		pthread_join(o[i].thread, NULL);
		if (o[i].rc != 0)
			rc = -1;
	}
	if (rc == 0 && lk->opened < lk->n) {
		if (!bench_interrupted && now_ns() > lk->deadline)
			bench_log("links: %u of %u links open after %u s "
			    "(--timeout)", lk->opened, lk->n,
			    lk->args->timeout_s);
		rc = -1;
	}
	return rc;
}

static void
links_close(struct links *lk)
{
	unsigned	i;

	for (i = 0; i < lk->n; i++) {
		SSL_free(lk->a[i].ssl);
		lk->a[i].ssl = NULL;
		if (lk->a[i].fd != -1)
			close(lk->a[i].fd);
		lk->a[i].fd = -1;
	}
}

/* Our authorities the daemon's log says are up now. */
static int
links_up_log(struct links *lk, unsigned *up)
{
	static const char	 key[] = " peer=" LINKS_ID_PREFIX;
	char			 line[1024], *p, *end;
	unsigned long		 i;
	FILE			*f;

	*up = 0;
	if ((f = fopen(lk->d->log, "r")) == NULL) {
		bench_log("links: %s: %s", lk->d->log, strerror(errno));
		return -1;
	}
	memset(lk->seen, 0, lk->n);
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strstr(line, key)) == NULL)
			continue;
		i = strtoul(p + sizeof(key) - 1, &end, 10);
		if (end == p + sizeof(key) - 1 || i >= lk->n)
			continue;
		if (strncmp(end, ": up (inbound)", 14) == 0)
			lk->seen[i] = 1;
		else if (strncmp(end, ": down", 6) == 0)
			lk->seen[i] = 0;
	}
	fclose(f);
	for (i = 0; i < lk->n; i++)
		*up += lk->seen[i];
	return 0;
}

/* How many of our authorities the daemon has a link up with. */
static int
links_up(struct links *lk, unsigned *up)
{
	struct comity_peer	*peers;
	comity_conn		*c;
	size_t			 n, i;
	int			 rc;

	*up = 0;
	if (lk->by_log)
		return links_up_log(lk, up);
	if ((rc = comity_connect(lk->d->sock, &c)) != 0) {
		bench_log("links: connect %s: %s", lk->d->sock,
		    comity_strerror(rc));
		return -1;
	}
	if ((rc = comity_peers(c, &peers, &n)) != 0) {
		bench_log("links: peers: %s: %s%s", comity_strerror(rc),
		    comity_errmsg(c), rc == COMITY_EPROTO ? "; counting the "
		    "links in the daemon's log instead" : "");
		comity_close(c);
		if (rc != COMITY_EPROTO)
			return -1;
		lk->by_log = 1;
		return links_up_log(lk, up);
	}
	for (i = 0; i < n; i++)
		if (peers[i].up && strncmp(peers[i].id, LINKS_ID_PREFIX,
		    strlen(LINKS_ID_PREFIX)) == 0)
			(*up)++;
	comity_free(peers);
	comity_close(c);
	return 0;
}

/* Until the daemon counts every link as up (it may not have read the
 * last Hellos yet). */
static int
links_wait_up(struct links *lk, struct net *net, unsigned *up)
{
	int64_t	until = now_ns() + (int64_t)LINKS_UP_WAIT_MS * 1000000;

	for (;;) {
		if (links_up(lk, up) == -1)
			return -1;
		if (*up == lk->n)
			return 0;
		if (bench_interrupted || net_check(net) != 0)
			return -1;
		if (now_ns() > until) {
			bench_log("links: the daemon counts %u of %u links up",
			    *up, lk->n);
			return -1;
		}
		sleep_ms(LINKS_POLL_MS);
	}
}

/* ------------------------------------------------------------ run */

static void
links_report(struct links *lk, double open_s, long base, long rss,
    long hwm, long anon, json_t *out)
{
	json_t	*o;

	json_object_set_new(out, "links", json_integer(lk->n));
	json_object_set_new(out, "counted_by",
	    json_string(lk->by_log ? "log" : "peers"));
	json_object_set_new(out, "open_seconds",
	    json_real(stats_round(open_s, 3)));
	json_object_set_new(out, "handshakes_per_s",
	    json_real(stats_round((double)lk->n / open_s, 1)));
	json_object_set_new(out, "rss_base_kib", json_integer(base));
	json_object_set_new(out, "rss_kib", json_integer(rss));
	json_object_set_new(out, "kib_per_link", json_real(stats_round(
	    (double)(rss - base) / lk->n, 1)));
	o = json_object();
	json_object_set_new(o, lk->d->role, json_integer(hwm));
	json_object_set_new(out, "rss_peak_kib", o);
	o = json_object();
	json_object_set_new(o, lk->d->role, json_integer(anon));
	json_object_set_new(out, "rss_anon_kib", o);
}

/* Hold the links open and idle, then read the daemon's memory. */
static int
links_measure(struct links *lk, struct net *net, json_t *out)
{
	int64_t		t0;
	unsigned	up;
	long		base, rss, hwm, anon;
	double		open_s;

	if ((base = net_daemon_kib(lk->d, "VmRSS")) < 0)
		return -1;
	bench_log("links run %u: opening %u links to %s from %d threads",
	    lk->args->run, lk->n, lk->d->id, LINKS_THREADS);
	t0 = now_ns();
	if (links_open(lk, net) == -1)
		return -1;
	open_s = (double)(now_ns() - t0) / 1e9;
	if (links_wait_up(lk, net, &up) == -1)
		return -1;
	bench_log("links run %u: %u links up after %.2f s; holding them %d s",
	    lk->args->run, up, open_s, LINKS_HOLD_MS / 1000);
	sleep_ms(LINKS_HOLD_MS);
	if (bench_interrupted || net_check(net) != 0)
		return -1;
	if ((rss = net_daemon_kib(lk->d, "VmRSS")) < 0 ||
	    (hwm = net_daemon_kib(lk->d, "VmHWM")) < 0 ||
	    (anon = net_daemon_kib(lk->d, "RssAnon")) < 0)
		return -1;
	/* still there after the hold: no idle timeout cut them */
	if (links_up(lk, &up) == -1)
		return -1;
	if (up != lk->n) {
		bench_log("links: %u of %u links still up after %d s", up,
		    lk->n, LINKS_HOLD_MS / 1000);
		return -1;
	}
	links_report(lk, open_s, base, rss, hwm, anon, out);
	return 0;
}

int
links_run(struct bench *b, struct net *unused, const struct run_args *a,
    json_t *out)
{
	struct links	 lk;
	struct net	 net;
	struct net_spec	 spec;
	char		 name[64], limits[128];
	unsigned	 i;
	int		 rc = -1;

	(void)unused;
	if (a->count > LINKS_MAX) {
		bench_log("links: at most %d links (the directory's bound)",
		    LINKS_MAX);
		return -1;
	}
	memset(&lk, 0, sizeof(lk));
	pthread_mutex_init(&lk.lock, NULL);
	lk.args = a;
	lk.n = (unsigned)a->count;
	lk.deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	if ((lk.a = calloc(lk.n, sizeof(*lk.a))) == NULL ||
	    (lk.seen = calloc(lk.n, 1)) == NULL) {
		free(lk.a);
		bench_log("links: out of memory");
		pthread_mutex_destroy(&lk.lock);
		return -1;
	}
	for (i = 0; i < lk.n; i++) {
		snprintf(lk.a[i].id, sizeof(lk.a[i].id), LINKS_ID_FMT, i);
		lk.a[i].fd = -1;
	}
	if (net_nofile(lk.n + LINKS_SPARE) == -1)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.start = 1u << NET_RECEIVER;
	snprintf(limits, sizeof(limits), "max_connections = %u\n"
	    "idle_timeout = 1d\n", lk.n + LINKS_SPARE);
	spec.limits = limits;
	snprintf(name, sizeof(name), "links-%u", a->run);
	lk.d = &net.d[NET_RECEIVER];
	if (net_create(b, &net, name, &spec) == -1) {
		net_down(b, &net);
		goto out;
	}
	bench_log("links run %u: %u certificates from the demo CA", a->run,
	    lk.n);
	if (links_directory(b, &lk, &net) == -1 ||
	    net_start(b, &net, NET_RECEIVER) == -1 ||
	    (lk.ctx = client_ctx(b)) == NULL ||
	    links_measure(&lk, &net, out) == -1) {
		links_close(&lk);
		net_down(b, &net);
		goto out;
	}
	links_close(&lk);
	rc = net_down(b, &net);
out:
	for (i = 0; i < lk.n; i++) {
		X509_free(lk.a[i].cert);
		EVP_PKEY_free(lk.a[i].key);
	}
	SSL_CTX_free(lk.ctx);
	free(lk.a);
	free(lk.seen);
	pthread_mutex_destroy(&lk.lock);
	return rc;
}
