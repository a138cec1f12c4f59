/*
 * test_client_local.c - libcomity against the real local API server
 * (daemon/local.c, and daemon/notify.c for watch events) with the queue,
 * peers and directory stubbed: the two ends of the local protocol tested
 * together, and the server's defences against hostile local clients and
 * slow watchers.
 *
 * The server's event loop runs in its own thread; the test thread talks
 * to it through sockets only.  Stubs run in the loop thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "checkpoint.h"
#include "bounds.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "frame.h"
#include "local.h"
#include "log.h"
#include "notify.h"
#include "peer.h"
#include "queue.h"
#include "wire.h"
#include "xmalloc.h"

int	run_local_tests(void);

/* ------------------------------------------------------------ stubs */

#define NITEMS		450		/* spans three default pages */
#define SUBMIT_DELAY_MS	0

static struct {
	char		 to[64];
	uint32_t	 uid;
	size_t		 ndocs;
	int		 submits;
	int		 submit_delay_ms;
	int		 acks;
	int		 audits;
	int		 empty_inbox;
	size_t		 list_scan;	/* records a page looks at, 0 = all */
	uint64_t	 list_sparse;	/* only every n-th seq matches */
	int		 list_stuck;	/* next_seq never moves on */
} stub;

/* Idempotency keys "k-..." committed by submits, with their ids. */
#define NKEYS	8
static struct {
	char		 key[32];
	uint8_t		 id[16];
} keys[NKEYS];
static int	 nkeys;

struct delayed {
	queue_cb		 cb;
	void			*arg;
	int			 rc;
	struct queue_submit_res	*res;		/* a submit with ... */
	const char		*key;		/* ... a new key, or NULL */
};

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed	*d = arg;

	(void)fd;
	(void)what;
	if (d->key != NULL && d->rc == 0 && nkeys < NKEYS) {
		snprintf(keys[nkeys].key, sizeof(keys[nkeys].key), "%s",
		    d->key);
		memcpy(keys[nkeys++].id, d->res->id, 16);
	}
	d->cb(d->arg, d->rc);
	free(d);
}

/* Complete an operation later, from the loop, as the store's batch does;
 * a submit's KEY (static) is known from then on. */
static void
later_key(queue_cb cb, void *arg, int rc, int ms, struct queue_submit_res *res,
    const char *key)
{
	struct delayed	*d = calloc(1, sizeof(*d));
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	d->cb = cb;
	d->arg = arg;
	d->rc = rc;
	d->res = res;
	d->key = key;
	event_base_once(cd->base, -1, EV_TIMEOUT, delayed_cb, d, &tv);
}

static void
later(queue_cb cb, void *arg, int rc, int ms)
{
	later_key(cb, arg, rc, ms, NULL, NULL);
}

/* KEY if it is one of those the stub keeps ("k-1" ... "k-3"), else NULL */
static const char *
stub_key(const char *key)
{
	static const char	*const kept[] = { "k-1", "k-2", "k-3" };
	size_t			 i;

	for (i = 0; key != NULL && i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(key, kept[i]) == 0)
			return kept[i];
	return NULL;
}

int
queue_submit(const Comity__SubmitReq *req, uint32_t uid,
    struct queue_submit_res *res, queue_cb cb, void *arg)
{
	const char	*key = stub_key(req->idempotency_key);
	int		 i;

	memset(res, 0, sizeof(*res));
	if (strcmp(req->to, "XX-NONE") == 0) {
		snprintf(res->err, sizeof(res->err), "XX-NONE is not in the "
		    "directory");
		return COMITY_EUNKNOWNPEER;
	}
	snprintf(stub.to, sizeof(stub.to), "%s", req->to);
	stub.uid = uid;
	stub.ndocs = req->n_documents;
	stub.submits++;
	memset(res->id, 0xab, sizeof(res->id));
	/* the items of a batch are told apart by their case reference */
	if (req->case_ref != NULL && req->case_ref[0] != '\0')
		res->id[15] = (uint8_t)strtoul(req->case_ref, NULL, 10);
	res->existed = req->idempotency_key != NULL &&
	    strcmp(req->idempotency_key, "known") == 0;
	for (i = 0; key != NULL && i < nkeys; i++)
		if (strcmp(keys[i].key, key) == 0) {
			memcpy(res->id, keys[i].id, 16);
			res->existed = 1;
			key = NULL;
			break;
		}
	if (strcmp(req->to, "XX-FULL") == 0) {
		/* a failure reported at commit time */
		snprintf(res->err, sizeof(res->err), "store full");
		later(cb, arg, COMITY_ESTOREFULL, stub.submit_delay_ms);
	} else if (req->subject != NULL && strcmp(req->subject, "now") == 0)
		cb(arg, 0);	/* done within the call */
	else
		later_key(cb, arg, 0, stub.submit_delay_ms, res, key);
	return 0;
}

int
queue_ack(const uint8_t id[16], uint32_t uid, queue_cb cb, void *arg)
{
	(void)uid;
	if (id[0] != 0xab)
		return COMITY_ENOTFOUND;
	stub.acks++;
	later(cb, arg, 0, 0);
	return 0;
}

int
queue_cancel(const uint8_t id[16], uint32_t uid, queue_cb cb, void *arg)
{
	(void)id;
	(void)uid;
	/* a failure reported at commit time */
	later(cb, arg, COMITY_ESTOREFULL, 0);
	return 0;
}

static Comity__ItemInfo *
stub_item(uint64_t seq)
{
	Comity__ItemInfo	*it = xcalloc(1, sizeof(*it));

	comity__item_info__init(it);
	it->id.data = xcalloc(1, 16);
	it->id.len = 16;
	it->id.data[0] = 0xab;
	it->id.data[15] = (uint8_t)seq;
	it->state = COMITY__STATE__STATE_QUEUED;
	it->from = xstrdup("BE-FPSJ");
	it->to = xstrdup("KE-ODPP");
	it->case_ref = xstrdup("");
	it->reason = xstrdup("");
	it->times = xcalloc(1, sizeof(*it->times));
	comity__times__init(it->times);
	it->times->submitted_at = (int64_t)seq * 1000;
	it->seq = seq;
	return it;
}

int
queue_status(const uint8_t id[16], Comity__ItemInfo **out)
{
	if (id[0] != 0xab)
		return COMITY_ENOTFOUND;
	*out = stub_item(1);
	return 0;
}

void
queue_info_free(Comity__ItemInfo *i)
{
	wire_free(i);
}

int
queue_list(const Comity__ListReq *req, Comity__ItemInfo ***items,
    size_t *n_items, int *more, uint64_t *next)
{
	size_t		 limit = req->limit ? req->limit : LIST_PAGE_DEFAULT;
	uint64_t	 seq, last = req->box == COMITY__BOX__BOX_IN &&
	    stub.empty_inbox ? 0 : NITEMS;
	size_t		 n = 0, looked = 0;

	*items = xcalloc(limit, sizeof(**items));
	*next = req->after_seq;
	for (seq = req->after_seq + 1; seq <= last && n < limit &&
	    (stub.list_scan == 0 || looked < stub.list_scan); seq++) {
		looked++;
		*next = seq;
		if (stub.list_sparse == 0 || seq % stub.list_sparse == 0)
			(*items)[n++] = stub_item(seq);
	}
	*n_items = n;
	*more = seq <= last;
	if (stub.list_stuck)
		*next = req->after_seq;
	return 0;
}

int
queue_fetch(const uint8_t id[16], Comity__Request **out)
{
	Comity__Request		*r = xcalloc(1, sizeof(*r));
	Comity__Document	*d = xcalloc(1, sizeof(*d));

	comity__request__init(r);
	comity__document__init(d);
	r->id.data = xmemdup(id, 16);
	r->id.len = 16;
	r->from = xstrdup("KE-ODPP");
	d->name = xstrdup("a.pdf");
	d->media_type = xstrdup("application/pdf");
	d->content.data = xmalloc(300000);
	memset(d->content.data, 'q', 300000);
	d->content.len = 300000;
	r->documents = xcalloc(1, sizeof(*r->documents));
	r->documents[0] = d;
	r->n_documents = 1;
	*out = r;
	return 0;
}

int
queue_receipt(const uint8_t id[16], int kind, uint8_t **buf, size_t *len)
{
	(void)id;
	if (kind == COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED)
		return COMITY_ENOTFOUND;
	*buf = xmemdup("\x30\x03\x02\x01\x01", 5);
	*len = 5;
	return 0;
}

int
queue_sealed(const uint8_t id[16], uint8_t **buf, size_t *len)
{
	if (id[0] != 0xab)
		return COMITY_ENOTFOUND;
	*buf = xmemdup("\x30\x80sealed", 8);
	*len = 8;
	return 0;
}

void
queue_audit(int event, const uint8_t *id, const char *peer,
    const char *detail)
{
	(void)event;
	(void)id;
	(void)peer;
	(void)detail;
	stub.audits++;
}

/* A synthetic audit trail of NAUDIT records; every tenth is about the
 * request ab..ab.  A page looks at no more than AUDIT_STUB_SCAN records,
 * so a narrow filter gets empty pages with more set, as audit.c may. */
#define NAUDIT		2500
#define AUDIT_STUB_SCAN	300

static const uint8_t	audit_hash_a[32] = { 0xaa, 1, 2, 3 };
static const uint8_t	audit_hash_b[32] = { 0xbb, 4, 5, 6 };
static const uint8_t	audit_id_ab[16] = {
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
};

int
audit_export_page(struct store *s, const struct audit_filter *f,
    uint64_t after, size_t limit, struct audit_page *pg)
{
	Comity__AuditRecordInfo	*i;
	uint64_t		 seq;
	size_t			 scanned = 0;

	(void)s;
	memset(pg, 0, sizeof(*pg));
	if (limit == 0)
		limit = AUDIT_PAGE_DEFAULT;
	pg->info = xcalloc(limit, sizeof(*pg->info));
	pg->recs = xcalloc(limit, sizeof(*pg->recs));
	pg->next = after;
	for (seq = after + 1; seq <= NAUDIT; seq++) {
		if (pg->n == limit || scanned == AUDIT_STUB_SCAN) {
			pg->more = 1;
			break;
		}
		scanned++;
		pg->next = seq;
		if (f->id != NULL && (seq % 10 != 0 ||
		    memcmp(f->id, audit_id_ab, 16) != 0))
			continue;
		if (f->since_ns != 0 && (int64_t)seq * 1000 < f->since_ns)
			continue;
		if (f->until_ns != 0 && (int64_t)seq * 1000 >= f->until_ns)
			continue;
		i = &pg->info[pg->n];
		comity__audit_record_info__init(i);
		i->seq = seq;
		i->time_ns = (int64_t)seq * 1000;
		i->event = 2;
		i->event_name = (char *)"SENT";
		if (seq % 10 == 0) {
			i->message_id.data = (uint8_t *)audit_id_ab;
			i->message_id.len = 16;
			i->peer = (char *)"KE-ODPP";
		}
		i->uid = seq % 2 ? 1000 : 0xffffffffu;
		i->detail = (char *)"detail, \"quoted\"";
		i->prev_hash.data = (uint8_t *)audit_hash_a;
		i->prev_hash.len = 32;
		i->hash.data = (uint8_t *)audit_hash_b;
		i->hash.len = 32;
		pg->recs[pg->n++] = i;
	}
	return 0;
}

void
audit_page_free(struct audit_page *pg)
{
	free(pg->info);
	free(pg->recs);
	memset(pg, 0, sizeof(*pg));
}

void
audit_set_trust(X509_STORE *trust)
{
	(void)trust;
}

void
checkpoint_now(checkpoint_done_fn done, void *arg)
{
	static const uint8_t	der[] = { 0x30, 0x00 };

	done(arg, 0, der, sizeof(der), "");
}

int
audit_verify_store(struct store *s, const struct audit_witness *w,
    struct audit_result *res)
{
	(void)s;
	memset(res, 0, sizeof(*res));
	res->head_seq = NAUDIT;
	memcpy(res->head_hash, audit_hash_b, 32);
	if (w != NULL && w->seq > NAUDIT) {
		res->count = NAUDIT;
		res->bad_seq = NAUDIT + 1;
		snprintf(res->reason, sizeof(res->reason), "missing: records "
		    "removed from the end");
		return COMITY_ECORRUPT;
	}
	res->ok = 1;
	res->count = NAUDIT;
	res->witnessed = w != NULL;
	res->regressions = 1;
	res->first_regression = 77;
	return 0;
}

int
queue_timeline(const uint8_t id[16], Comity__ItemInfo **info,
    Comity__TimelineInfo **tl)
{
	if (id[0] != 0xab)
		return COMITY_ENOTFOUND;
	*info = stub_item(3);
	*tl = xcalloc(1, sizeof(**tl));
	comity__timeline_info__init(*tl);
	(*tl)->created_at_ns = 11;
	(*tl)->peer_delivered_at_ns = 22;
	(*tl)->peer_delivered_seq = 5;
	(*tl)->peer_delivered_kind = COMITY__RECEIPT_KIND__RECEIPT_DELIVERED;
	(*tl)->peer_retrieved_at_ns = 33;
	(*tl)->peer_retrieved_seq = 9;
	return 0;
}

int
peer_info(Comity__PeerInfo ***out, size_t *n)
{
	Comity__PeerInfo	*p = xcalloc(1, sizeof(*p));

	comity__peer_info__init(p);
	p->id = xstrdup("KE-ODPP");
	p->up = 1;
	p->queued = 2;
	*out = xcalloc(1, sizeof(**out));
	(*out)[0] = p;
	*n = 1;
	return 0;
}

void
peer_info_free(Comity__PeerInfo **arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wire_free(arr[i]);
	free(arr);
}

const char *
type_name(int type)
{
	return type == 1 ? "mla" : type == 2 ? "extradition" : "other";
}

/* Log lines the server wrote that a test looks for (loop thread). */
static volatile int	 saw_left, saw_debug_op, saw_slow, saw_unread;
static volatile int	 watch_ends, saw_batch_left;
static char		 batch_line[512];	/* the last batch's line */

static void
log_hook(int level, const char *line)
{
	if (strstr(line, " op=submit-batch count=") != NULL) {
		if (strstr(line, "client left before the commit") != NULL)
			saw_batch_left = 1;
		else
			snprintf(batch_line, sizeof(batch_line), "%s", line);
	} else if (strstr(line, "client left before the commit") != NULL)
		saw_left = 1;
	if (level == LOG_LVL_WARN && strstr(line, "watcher reads too slowly") !=
	    NULL && strstr(line, ": dropped") != NULL)
		saw_slow = 1;
	if (strstr(line, "watch event state not sent: cannot read the item") !=
	    NULL)
		saw_unread = 1;
	if (strstr(line, " stopped watching watchers=") != NULL)
		watch_ends++;
	if (level == LOG_LVL_DEBUG && strstr(line, "local uid=") != NULL &&
	    strstr(line, " op=peers id=- rc=0") != NULL)
		saw_debug_op = 1;
}

/* ------------------------------------------------------------ the server */

static struct conf	 conf;
static struct dir_entry	 entries[2];
static struct directory	 dir = { entries, 2 };
static char		 tdir[64], sockpath[96];
static pthread_t	 loop_thr;
static volatile int	 loop_stop, close_now;
static struct event	*tick;

/*
 * Events the test thread asks the loop to publish, as the queue does after
 * a commit: COUNT events of KIND about stub items (urgent ones with
 * URGENT), about no item (NO_ITEM), or through notify_id() for an id whose
 * first byte is ID0 (BY_ID).
 */
static struct {
	int		 pending;	/* set by the test, cleared by the loop */
	int		 kind;
	int		 count;
	int		 urgent;
	int		 no_item;
	int		 by_id;
	uint8_t		 id0;
	char		 detail[32];
} pub;

static void
publish_now(void)
{
	Comity__ItemInfo	*it;
	uint8_t			 id[16];
	int			 i;

	for (i = 0; i < pub.count; i++) {
		if (pub.no_item)
			notify(pub.kind, NULL, pub.detail, NULL);
		else if (pub.by_id) {
			memset(id, 0, sizeof(id));
			id[0] = pub.id0;
			notify_id(pub.kind, id, pub.detail, NULL);
		} else {
			it = stub_item((uint64_t)i + 1);
			it->priority = pub.urgent ?
			    COMITY__PRIORITY__PRIORITY_URGENT :
			    COMITY__PRIORITY__PRIORITY_NORMAL;
			notify(pub.kind, it, pub.detail, "call the duty officer");
			queue_info_free(it);
		}
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (__atomic_load_n(&pub.pending, __ATOMIC_ACQUIRE)) {
		publish_now();
		__atomic_store_n(&pub.pending, 0, __ATOMIC_RELEASE);
	}
	if (close_now) {
		local_close();
		close_now = 0;
	}
	if (loop_stop)
		event_base_loopexit(cd->base, NULL);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_loop(cd->base, EVLOOP_NO_EXIT_ON_EMPTY);
	local_close();
	return NULL;
}

static void
setup_cd(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/comity-local-XXXXXX");
	assert_non_null(mkdtemp(tdir));
	snprintf(sockpath, sizeof(sockpath), "%s/comity.sock", tdir);
	memset(&conf, 0, sizeof(conf));
	conf.socket = sockpath;
	conf.idle_timeout_ms = 2000;
	memset(entries, 0, sizeof(entries));
	entries[0].id = (char *)"BE-FPSJ";
	entries[0].name = (char *)"FPS Justice";
	entries[0].accepts = (1u << 1) | (1u << 2);
	entries[0].languages = (char *)" fr, nl ,en";
	entries[1].id = (char *)"KE-ODPP";
	entries[1].has_pin = 1;
	memset(entries[1].pin, 0xa5, 32);
	cd->conf = &conf;
	cd->dir = &dir;
	cd->self = "BE-FPSJ";
	cd->base = event_base_new();
	assert_non_null(cd->base);
	memset(&stub, 0, sizeof(stub));
}

static int
server_start(void **state)
{
	struct timeval	tv = { 0, 20000 };
	char		err[256];

	(void)state;
	setup_cd();
	assert_int_equal(local_listen(err, sizeof(err)), 0);
	tick = event_new(cd->base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	loop_stop = 0;
	assert_int_equal(pthread_create(&loop_thr, NULL, loop_main, NULL), 0);
	return 0;
}

static int
server_stop(void **state)
{
	(void)state;
	loop_stop = 1;
	pthread_join(loop_thr, NULL);
	event_free(tick);
	event_base_free(cd->base);
	cd->base = NULL;
	/* local_close() removed the socket */
	assert_int_equal(access(sockpath, F_OK), -1);
	rmdir(tdir);
	return 0;
}

static comity_conn *
conn(void)
{
	comity_conn	*c = NULL;

	assert_int_equal(comity_connect(sockpath, &c), 0);
	assert_int_equal(comity_set_timeout(c, 10000), 0);
	return c;
}

/* ------------------------------------------------------------ tests */

static void
test_local_ops(void **state)
{
	struct comity_doc	 d = { "x.txt", "text/plain",
				    (const uint8_t *)"hello", 5 };
	struct comity_submit	 sub;
	struct comity_item	*it = NULL;
	struct comity_request	*rq = NULL;
	struct comity_peer	*peers = NULL;
	struct comity_dir_entry	*de = NULL;
	struct stat		 st;
	comity_conn		*c;
	char			 id[33], id2[33];
	uint8_t			*der = NULL;
	size_t			 n = 0, len = 0;
	int			 existed = -1;

	(void)state;
	assert_int_equal(stat(sockpath, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	c = conn();
	memset(&sub, 0, sizeof(sub));
	sub.to = "KE-ODPP";
	sub.type = COMITY_TYPE_MLA;
	sub.docs = &d;
	sub.ndocs = 1;
	assert_int_equal(comity_submit(c, &sub, id, &existed), 0);
	assert_string_equal(id, "abababababababababababababababab");
	assert_int_equal(existed, 0);
	assert_string_equal(stub.to, "KE-ODPP");
	assert_int_equal(stub.uid, getuid());
	assert_int_equal(stub.ndocs, 1);
	sub.idempotency_key = "known";
	assert_int_equal(comity_submit(c, &sub, id, &existed), 0);
	assert_int_equal(existed, 1);
	/* a refusal at once, with the queue's reason */
	sub.to = "XX-NONE";
	assert_int_equal(comity_submit(c, &sub, id2, NULL),
	    COMITY_EUNKNOWNPEER);
	assert_string_equal(comity_errmsg(c), "XX-NONE is not in the "
	    "directory");
	assert_int_equal(comity_status(c, id, &it), 0);
	assert_int_equal(it->seq, 1);
	comity_free(it);
	assert_int_equal(comity_status(c, "00000000000000000000000000000000",
	    &it), COMITY_ENOTFOUND);
	assert_int_equal(comity_ack(c, id), 0);
	assert_int_equal(stub.acks, 1);
	assert_int_equal(comity_ack(c, "00000000000000000000000000000000"),
	    COMITY_ENOTFOUND);
	assert_int_equal(comity_cancel(c, id), COMITY_ESTOREFULL);
	assert_string_equal(comity_errmsg(c), "store full");
	assert_int_equal(comity_fetch(c, id, &rq), 0);
	assert_int_equal(rq->ndocs, 1);
	assert_int_equal(rq->docs[0].len, 300000);
	assert_string_equal(rq->docs[0].name, "a.pdf");
	comity_request_free(rq);
	assert_int_equal(comity_receipt(c, id, COMITY_RECEIPT_DELIVERED, &der,
	    &len), 0);
	assert_int_equal(len, 5);
	comity_free(der);
	assert_int_equal(comity_receipt(c, id, COMITY_RECEIPT_RETRIEVED, &der,
	    &len), COMITY_ENOTFOUND);
	assert_int_equal(comity_sealed(c, "ab000000000000000000000000000000",
	    &der, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(der, "\x30\x80sealed", 8);
	comity_free(der);
	assert_int_equal(comity_sealed(c, "00000000000000000000000000000000",
	    &der, &len), COMITY_ENOTFOUND);
	assert_null(der);
	assert_int_equal(comity_peers(c, &peers, &n), 0);
	assert_true(saw_debug_op);
	assert_int_equal(n, 1);
	assert_true(peers[0].up);
	assert_int_equal(peers[0].queued, 2);
	comity_free(peers);
	assert_int_equal(comity_directory(c, &de, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(de[0].id, "BE-FPSJ");
	assert_true(de[0].self);
	assert_int_equal(de[0].naccepts, 2);
	assert_string_equal(de[0].accepts[0], "mla");
	assert_string_equal(de[0].accepts[1], "extradition");
	assert_int_equal(de[0].nlanguages, 3);
	assert_string_equal(de[0].languages[0], "fr");
	assert_string_equal(de[0].languages[1], "nl");
	assert_string_equal(de[0].languages[2], "en");
	assert_string_equal(de[0].pin, "");
	assert_false(de[1].self);
	assert_int_equal(de[1].naccepts, 0);
	assert_int_equal(strlen(de[1].pin), 64);
	assert_memory_equal(de[1].pin, "a5a5a5", 6);
	comity_free(de);
	comity_close(c);
}

static int
count_cb(const struct comity_item *it, void *arg)
{
	uint64_t	*n = arg;

	if (it->seq != *n + 1)
		return -100;
	(*n)++;
	return 0;
}

struct audit_count {
	uint64_t	 n, last, stop_at;
	int		 bad;
};

static int
audit_cb(const struct comity_audit_record *r, void *arg)
{
	struct audit_count	*ac = arg;

	if (r->seq <= ac->last || r->hash[0] != 0xbb ||
	    r->prev_hash[0] != 0xaa || strcmp(r->event_name, "SENT") != 0 ||
	    strcmp(r->detail, "detail, \"quoted\"") != 0 ||
	    r->time != (int64_t)r->seq * 1000 ||
	    r->uid != (r->seq % 2 ? 1000u : COMITY_AUDIT_NO_UID) ||
	    (r->seq % 10 == 0) != (r->message_id[0] != '\0'))
		ac->bad++;
	ac->last = r->seq;
	ac->n++;
	return ac->stop_at != 0 && ac->n == ac->stop_at ? 42 : 0;
}

static void
test_local_audit(void **state)
{
	struct comity_audit_filter	 f;
	struct comity_audit_result	 res;
	struct comity_audit_witness	 w;
	struct comity_timeline		*tl = NULL;
	struct audit_count		 ac;
	comity_conn			*c;

	(void)state;
	c = conn();
	/* everything, in default pages (the stub looks at 300 a page) */
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(comity_audit_export(c, NULL, audit_cb, &ac), 0);
	assert_int_equal(ac.n, NAUDIT);
	assert_int_equal(ac.bad, 0);
	/* small pages */
	memset(&f, 0, sizeof(f));
	f.page_size = 7;
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac), 0);
	assert_int_equal(ac.n, NAUDIT);
	/* one request: most pages are empty but say more */
	memset(&f, 0, sizeof(f));
	f.id = "ABABABABABABABABABABABABABABABAB";
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac), 0);
	assert_int_equal(ac.n, NAUDIT / 10);
	assert_int_equal(ac.bad, 0);
	f.id = "00000000000000000000000000000000";
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac), 0);
	assert_int_equal(ac.n, 0);
	/* a time window: [100000, 200000) ns */
	memset(&f, 0, sizeof(f));
	f.since_ns = 100000;
	f.until_ns = 200000;
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac), 0);
	assert_int_equal(ac.n, 100);
	/* the callback stops it */
	memset(&ac, 0, sizeof(ac));
	ac.stop_at = 1234;
	assert_int_equal(comity_audit_export(c, NULL, audit_cb, &ac), 42);
	assert_int_equal(ac.n, 1234);
	/* bad filters never reach the daemon */
	memset(&f, 0, sizeof(f));
	f.page_size = 1001;
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac),
	    COMITY_EINVAL);
	f.page_size = 0;
	f.id = "xyz";
	assert_int_equal(comity_audit_export(c, &f, audit_cb, &ac),
	    COMITY_EINVAL);
	assert_int_equal(comity_audit_export(c, NULL, NULL, NULL),
	    COMITY_EINVAL);

	/* verify */
	assert_int_equal(comity_audit_verify(c, NULL, &res), 0);
	assert_true(res.ok);
	assert_int_equal(res.count, NAUDIT);
	assert_int_equal(res.head_seq, NAUDIT);
	assert_int_equal(res.head_hash[0], 0xbb);
	assert_int_equal(res.time_regressions, 1);
	assert_int_equal(res.first_regression_seq, 77);
	assert_false(res.witnessed);
	memset(&w, 0, sizeof(w));
	w.seq = 12;
	assert_int_equal(comity_audit_verify(c, &w, &res), 0);
	assert_true(res.witnessed);
	w.seq = NAUDIT + 5;
	assert_int_equal(comity_audit_verify(c, &w, &res), COMITY_ECORRUPT);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, NAUDIT + 1);
	assert_non_null(strstr(res.reason, "removed from the end"));
	assert_non_null(strstr(comity_errmsg(c), "audit chain broken at seq "
	    "2501: missing"));

	/* timeline */
	assert_int_equal(comity_timeline(c, "abababababababababababababababab",
	    &tl), 0);
	assert_int_equal(tl->item.seq, 3);
	assert_string_equal(tl->item.from, "BE-FPSJ");
	assert_string_equal(tl->item.to, "KE-ODPP");
	assert_int_equal(tl->created_at, 11);
	assert_int_equal(tl->peer_delivered_at, 22);
	assert_int_equal(tl->peer_delivered_seq, 5);
	assert_int_equal(tl->peer_delivered_kind, COMITY_RECEIPT_DELIVERED);
	assert_int_equal(tl->peer_retrieved_at, 33);
	assert_int_equal(tl->peer_retrieved_seq, 9);
	comity_free(tl);
	assert_int_equal(comity_timeline(c, "00000000000000000000000000000000",
	    &tl), COMITY_ENOTFOUND);
	assert_null(tl);
	assert_int_equal(comity_timeline(c, "zz", &tl), COMITY_EINVAL);
	comity_close(c);
}

static void
test_local_list(void **state)
{
	struct comity_list_opts	 lo;
	comity_conn		*c;
	uint64_t		 n = 0;

	(void)state;
	c = conn();
	memset(&lo, 0, sizeof(lo));
	assert_int_equal(comity_list(c, &lo, count_cb, &n), 0);
	assert_int_equal(n, NITEMS);
	/* an empty list is a valid (non-empty) frame */
	stub.empty_inbox = 1;
	lo.box = COMITY_BOX_IN;
	n = 0;
	assert_int_equal(comity_list(c, &lo, count_cb, &n), 0);
	assert_int_equal(n, 0);
	/* the server checks the filter too */
	lo.page_size = LIST_PAGE_MAX + 1;
	assert_int_equal(comity_list(c, &lo, count_cb, &n), COMITY_EINVAL);
	comity_close(c);
}

/* the items of a sparse listing: every 25th seq, in order */
#define LIST_SPARSE	25
static int
sparse_cb(const struct comity_item *it, void *arg)
{
	uint64_t	*n = arg;

	if (it->seq != (*n + 1) * LIST_SPARSE)
		return -100;
	(*n)++;
	return 0;
}

/*
 * A daemon looks at a bounded number of records a page: with a filter
 * that matches few, pages come back empty with more to come and the
 * cursor moved on, and the client goes on from there to the end.  A
 * cursor that does not move is a broken daemon, not a reason to loop.
 */
static void
test_local_list_sparse(void **state)
{
	struct comity_list_opts	 lo;
	comity_conn		*c;
	uint64_t		 n = 0;

	(void)state;
	c = conn();
	memset(&lo, 0, sizeof(lo));
	stub.list_scan = 10;
	stub.list_sparse = LIST_SPARSE;
	assert_int_equal(comity_list(c, &lo, sparse_cb, &n), 0);
	assert_int_equal(n, NITEMS / LIST_SPARSE);
	comity_close(c);

	c = conn();
	stub.list_stuck = 1;
	n = 0;
	assert_int_equal(comity_list(c, &lo, sparse_cb, &n), COMITY_EPROTO);
	assert_int_equal(n, 0);
	comity_close(c);
	stub.list_scan = 0;
	stub.list_sparse = 0;
	stub.list_stuck = 0;
}

static int
raw_connect(void)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { 5, 0 };
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
raw_read(int fd, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static Comity__LocalResponse *
raw_response(int fd)
{
	uint8_t			 hdr[4], *buf;
	uint32_t		 len;
	Comity__LocalResponse	*r;

	if (raw_read(fd, hdr, 4) != 0 ||
	    frame_length(hdr, LOCAL_FRAME_MAX, &len) != 0)
		return NULL;
	buf = malloc(len);
	if (raw_read(fd, buf, len) != 0) {
		free(buf);
		return NULL;
	}
	r = wire_unpack(&comity__local_response__descriptor, buf, len);
	free(buf);
	return r;
}

static uint8_t *
raw_request(const Comity__LocalRequest *req, size_t *len)
{
	return wire_pack(&req->base, 1, len);
}

/* Pipelined requests are answered, in order. */
static void
test_local_pipelined(void **state)
{
	Comity__LocalRequest	 a = COMITY__LOCAL_REQUEST__INIT;
	Comity__LocalRequest	 b = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__EmptyReq	 e = COMITY__EMPTY_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			 id[16], *pa, *pb, *both;
	size_t			 la, lb;
	int			 fd;

	(void)state;
	memset(id, 0xab, sizeof(id));
	ir.id.data = id;
	ir.id.len = 16;
	a.op_case = COMITY__LOCAL_REQUEST__OP_ACK;	/* async */
	a.ack = &ir;
	b.op_case = COMITY__LOCAL_REQUEST__OP_PEERS;	/* sync */
	b.peers = &e;
	pa = raw_request(&a, &la);
	pb = raw_request(&b, &lb);
	both = malloc(la + lb);
	memcpy(both, pa, la);
	memcpy(both + la, pb, lb);
	fd = raw_connect();
	assert_int_equal(write(fd, both, la + lb), (ssize_t)(la + lb));
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->n_peers, 0);	/* the ack's answer first */
	assert_int_equal(r->id.len, 16);
	wire_free(r);
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->n_peers, 1);
	wire_free(r);
	close(fd);
	free(pa);
	free(pb);
	free(both);
}

/* A length above the bound: closed without an answer, and audited. */
static void
test_local_bad_length(void **state)
{
	uint8_t	hdr[4] = { 0xff, 0xff, 0xff, 0xff }, b;
	int	fd, audits = stub.audits;

	(void)state;
	fd = raw_connect();
	assert_int_equal(write(fd, hdr, 4), 4);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
	assert_int_equal(stub.audits, audits + 1);
	/* a zero length is as bad */
	memset(hdr, 0, sizeof(hdr));
	fd = raw_connect();
	assert_int_equal(write(fd, hdr, 4), 4);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

/* Garbage in a valid frame: an EPROTO answer, then the close. */
static void
test_local_garbage(void **state)
{
	uint8_t			 frame[4 + 5] = { 0, 0, 0, 5, 0xff, 0xff, 0xff,
				    0xff, 0xff }, b;
	Comity__LocalResponse	*r;
	int			 fd;

	(void)state;
	fd = raw_connect();
	assert_int_equal(write(fd, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, COMITY_EPROTO);
	wire_free(r);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

/* A request with no operation set. */
static void
test_local_unknown_op(void **state)
{
	uint8_t			 frame[4 + 3] = { 0, 0, 0, 3, 0x98, 0x06, 0x00 };
	Comity__LocalResponse	*r;
	int			 fd;

	(void)state;
	/* field 99, varint 0: an unknown field, so no operation */
	fd = raw_connect();
	assert_int_equal(write(fd, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, COMITY_EINVAL);
	wire_free(r);
	close(fd);
}

/* The client leaves while its submit waits for the commit: the late
 * callback must not touch it; the server keeps serving. */
static void
test_local_client_leaves(void **state)
{
	Comity__LocalRequest	 rq = COMITY__LOCAL_REQUEST__INIT;
	Comity__SubmitReq	 s = COMITY__SUBMIT_REQ__INIT;
	uint8_t			*p;
	size_t			 len;
	int			 fd, before = stub.submits;
	comity_conn		*c;
	struct comity_peer	*peers;
	size_t			 n;

	(void)state;
	stub.submit_delay_ms = 300;
	s.to = (char *)"KE-ODPP";
	s.type = COMITY__REQUEST_TYPE__TYPE_MLA;
	rq.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT;
	rq.submit = &s;
	p = raw_request(&rq, &len);
	fd = raw_connect();
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	usleep(50000);
	close(fd);
	usleep(500000);		/* the callback has run by now */
	assert_int_equal(stub.submits, before + 1);
	stub.submit_delay_ms = 0;
	c = conn();
	assert_int_equal(comity_peers(c, &peers, &n), 0);
	comity_free(peers);
	comity_close(c);
}

/* ------------------------------------------------------------ batch */

static void
batch_reqs(struct comity_submit *r, size_t n, const struct comity_doc *d,
    char (*cases)[8])
{
	size_t	i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].to = "KE-ODPP";
		r[i].type = COMITY_TYPE_MLA;
		r[i].docs = d;
		r[i].ndocs = d != NULL ? 1 : 0;
		snprintf(cases[i], sizeof(cases[i]), "%zu", (i + 1) % 256);
		r[i].case_ref = cases[i];
	}
}

/*
 * A batch through the library: each item gets its own outcome, in order,
 * whether it fails at once, at its commit, within the call or in the
 * library; one log line for the batch.  Then the largest batch of the
 * smallest requests (the decoding budget is smallest for them).
 */
static void
test_local_batch(void **state)
{
	struct comity_doc		 d = { "x.txt", "text/plain",
					    (const uint8_t *)"hello", 5 };
	struct comity_submit		 sub[6], *big;
	struct comity_submit_result	 res[6], *bigres;
	char				 cases[SUBMIT_BATCH_MAX][8];
	comity_conn			*c;
	size_t				 i;
	int				 before = stub.submits;

	(void)state;
	batch_reqs(sub, 6, &d, cases);
	sub[1].to = "XX-NONE";		/* refused by the queue at once */
	sub[2].idempotency_key = "known";
	sub[3].to = "XX-FULL";		/* fails at its commit */
	sub[0].subject = "now";		/* done within queue_submit() */
	sub[5].to = "bad";		/* refused by the library */
	stub.submit_delay_ms = 100;
	c = conn();
	assert_int_equal(comity_submit_batch(c, sub, 6, res), 0);
	assert_int_equal(res[0].error, 0);
	assert_string_equal(res[0].id, "ababababababababababababababab01");
	assert_int_equal(res[0].existed, 0);
	assert_int_equal(res[1].error, COMITY_EUNKNOWNPEER);
	assert_string_equal(res[1].message, "XX-NONE is not in the directory");
	assert_string_equal(res[1].id, "");
	assert_int_equal(res[2].error, 0);
	assert_string_equal(res[2].id, "ababababababababababababababab03");
	assert_int_equal(res[2].existed, 1);
	assert_int_equal(res[3].error, COMITY_ESTOREFULL);
	assert_string_equal(res[3].message, "store full");
	assert_int_equal(res[4].error, 0);
	assert_string_equal(res[4].id, "ababababababababababababababab05");
	assert_int_equal(res[5].error, COMITY_EINVAL);
	assert_string_equal(res[5].message, "invalid recipient authority id");
	assert_int_equal(stub.submits, before + 4);
	assert_int_equal(stub.uid, getuid());
	assert_non_null(strstr(batch_line, "op=submit-batch count=5 ok=3 "
	    "failed=2 existed=1: item 2 rc=-11: XX-NONE is not in the "
	    "directory"));

	/*
	 * Keys repeated within a batch: as if submitted one after the
	 * other, though each commit takes 100 ms.  k-1 thrice: the first
	 * creates, the others exist; k-2 first fails, so the next creates.
	 */
	batch_reqs(sub, 6, &d, cases);
	sub[0].idempotency_key = "k-1";
	sub[1].idempotency_key = "k-2";
	sub[1].to = "XX-FULL";
	sub[2].idempotency_key = "k-1";
	sub[3].idempotency_key = "k-2";
	sub[4].idempotency_key = "k-1";
	sub[5].idempotency_key = "k-3";
	assert_int_equal(comity_submit_batch(c, sub, 6, res), 0);
	assert_int_equal(res[0].error, 0);
	assert_int_equal(res[0].existed, 0);
	assert_string_equal(res[0].id, "ababababababababababababababab01");
	assert_int_equal(res[1].error, COMITY_ESTOREFULL);
	assert_int_equal(res[2].error, 0);
	assert_int_equal(res[2].existed, 1);
	assert_string_equal(res[2].id, res[0].id);
	assert_int_equal(res[3].error, 0);
	assert_int_equal(res[3].existed, 0);
	assert_string_equal(res[3].id, "ababababababababababababababab04");
	assert_int_equal(res[4].error, 0);
	assert_int_equal(res[4].existed, 1);
	assert_string_equal(res[4].id, res[0].id);
	assert_int_equal(res[5].error, 0);
	assert_int_equal(res[5].existed, 0);
	assert_string_equal(res[5].id, "ababababababababababababababab06");
	assert_non_null(strstr(batch_line, "op=submit-batch count=6 ok=5 "
	    "failed=1 existed=2: item 2 rc=-4: store full"));

	big = calloc(SUBMIT_BATCH_MAX, sizeof(*big));
	bigres = calloc(SUBMIT_BATCH_MAX, sizeof(*bigres));
	assert_non_null(big);
	assert_non_null(bigres);
	batch_reqs(big, SUBMIT_BATCH_MAX, NULL, cases);
	for (i = 0; i < SUBMIT_BATCH_MAX; i++)
		big[i].case_ref = NULL;
	stub.submit_delay_ms = 0;
	assert_int_equal(comity_submit_batch(c, big, SUBMIT_BATCH_MAX, bigres),
	    0);
	for (i = 0; i < SUBMIT_BATCH_MAX; i++) {
		assert_int_equal(bigres[i].error, 0);
		assert_string_equal(bigres[i].id,
		    "abababababababababababababababab");
	}
	assert_non_null(strstr(batch_line, "op=submit-batch count=256 ok=256 "
	    "failed=0 existed=0"));
	free(big);
	free(bigres);
	comity_close(c);
}

/* A raw batch frame of N requests to KE-ODPP, with CASES. */
static uint8_t *
raw_batch(size_t n, size_t *len)
{
	Comity__LocalRequest	 rq = COMITY__LOCAL_REQUEST__INIT;
	Comity__SubmitBatchReq	 b = COMITY__SUBMIT_BATCH_REQ__INIT;
	Comity__SubmitReq	*items, **ptrs;
	uint8_t			*p;
	size_t			 i;

	items = calloc(n + 1, sizeof(*items));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	assert_non_null(items);
	assert_non_null(ptrs);
	for (i = 0; i < n; i++) {
		comity__submit_req__init(&items[i]);
		items[i].to = (char *)"KE-ODPP";
		items[i].type = COMITY__REQUEST_TYPE__TYPE_MLA;
		ptrs[i] = &items[i];
	}
	b.n_items = n;
	b.items = ptrs;
	rq.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH;
	rq.submit_batch = &b;
	p = raw_request(&rq, len);
	free(items);
	free(ptrs);
	return p;
}

/*
 * Batches the library would not send: above the bound and empty, each
 * refused with a clear error, the connection still served (a request
 * pipelined behind gets its answer).  Nothing reaches the queue.
 */
static void
test_local_batch_bounds(void **state)
{
	Comity__LocalRequest	 e = COMITY__LOCAL_REQUEST__INIT;
	Comity__LocalRequest	 pr = COMITY__LOCAL_REQUEST__INIT;
	Comity__SubmitBatchReq	 empty = COMITY__SUBMIT_BATCH_REQ__INIT;
	Comity__EmptyReq	 er = COMITY__EMPTY_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			*pb, *pe, *pp;
	size_t			 lb, le, lp;
	int			 fd, before = stub.submits;

	(void)state;
	pb = raw_batch(SUBMIT_BATCH_MAX + 1, &lb);
	e.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH;
	e.submit_batch = &empty;
	pe = raw_request(&e, &le);
	pr.op_case = COMITY__LOCAL_REQUEST__OP_PEERS;
	pr.peers = &er;
	pp = raw_request(&pr, &lp);
	fd = raw_connect();
	assert_int_equal(write(fd, pb, lb), (ssize_t)lb);
	assert_int_equal(write(fd, pe, le), (ssize_t)le);
	assert_int_equal(write(fd, pp, lp), (ssize_t)lp);
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, COMITY_ETOOBIG);
	assert_string_equal(r->message, "batch of 257 requests: at most 256 in "
	    "one batch");
	assert_int_equal(r->n_results, 0);
	wire_free(r);
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, COMITY_EINVAL);
	assert_non_null(strstr(r->message, "empty batch"));
	wire_free(r);
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->n_peers, 1);
	wire_free(r);
	close(fd);
	assert_int_equal(stub.submits, before);
	free(pb);
	free(pe);
	free(pp);
}

/* The client leaves while its batch waits for the commit: the answer,
 * once every item is done, goes nowhere; the server keeps serving. */
static void
test_local_batch_leaves(void **state)
{
	struct comity_peer	*peers;
	comity_conn		*c;
	uint8_t			*p;
	size_t			 len, n;
	int			 fd, before = stub.submits;

	(void)state;
	stub.submit_delay_ms = 300;
	batch_line[0] = '\0';
	p = raw_batch(3, &len);
	fd = raw_connect();
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	usleep(50000);
	close(fd);
	usleep(500000);		/* the callbacks have run by now */
	assert_int_equal(stub.submits, before + 3);
	assert_non_null(strstr(batch_line, "count=3 ok=3 failed=0"));
	stub.submit_delay_ms = 0;
	c = conn();
	assert_int_equal(comity_peers(c, &peers, &n), 0);
	comity_free(peers);
	comity_close(c);
}

/* The server stops while a submit and a batch wait for their commit: the
 * operations are detached, complete, and are freed by their callbacks.
 * Last of its group: the server is gone afterwards. */
static void
test_local_close_pending(void **state)
{
	Comity__LocalRequest	 rq = COMITY__LOCAL_REQUEST__INIT;
	Comity__SubmitReq	 s = COMITY__SUBMIT_REQ__INIT;
	uint8_t			*p, b;
	size_t			 len;
	int			 fd, fd2;

	(void)state;
	stub.submit_delay_ms = 300;
	s.to = (char *)"KE-ODPP";
	s.type = COMITY__REQUEST_TYPE__TYPE_MLA;
	rq.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT;
	rq.submit = &s;
	p = raw_request(&rq, &len);
	fd = raw_connect();
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	p = raw_batch(3, &len);
	fd2 = raw_connect();
	assert_int_equal(write(fd2, p, len), (ssize_t)len);
	free(p);
	usleep(50000);
	close_now = 1;
	/* the server drops us without an answer */
	assert_int_equal(read(fd, &b, 1), 0);
	assert_int_equal(read(fd2, &b, 1), 0);
	close(fd);
	close(fd2);
	usleep(500000);
	assert_true(saw_left);
	assert_true(saw_batch_left);
	assert_int_equal(access(sockpath, F_OK), -1);
}

/* ------------------------------------------------------------ watch */

/* Have the loop publish COUNT events (see pub); returns once it did. */
static void
publish(int kind, int count, int urgent, const char *detail)
{
	memset(&pub, 0, sizeof(pub));
	pub.kind = kind;
	pub.count = count;
	pub.urgent = urgent;
	snprintf(pub.detail, sizeof(pub.detail), "%s", detail);
	__atomic_store_n(&pub.pending, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&pub.pending, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static void
publish_special(int no_item, int by_id, uint8_t id0, const char *detail)
{
	memset(&pub, 0, sizeof(pub));
	pub.kind = no_item ? COMITY__WATCH_KIND__WATCH_WARNING :
	    COMITY__WATCH_KIND__WATCH_STATE;
	pub.count = 1;
	pub.no_item = no_item;
	pub.by_id = by_id;
	pub.id0 = id0;
	snprintf(pub.detail, sizeof(pub.detail), "%s", detail);
	__atomic_store_n(&pub.pending, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&pub.pending, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static Comity__LocalResponse *
raw_event(int fd)
{
	Comity__LocalResponse	*r = raw_response(fd);

	if (r != NULL && r->event == NULL) {
		wire_free(r);
		return NULL;
	}
	return r;
}

/* A watcher on a raw socket, its SUBSCRIBED event read. */
static int
raw_watch(int urgent_only)
{
	Comity__LocalRequest	 rq = COMITY__LOCAL_REQUEST__INIT;
	Comity__WatchReq	 wr = COMITY__WATCH_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			*p;
	size_t			 len;
	int			 fd;

	wr.urgent_only = urgent_only != 0;
	rq.op_case = COMITY__LOCAL_REQUEST__OP_WATCH;
	rq.watch = &wr;
	p = raw_request(&rq, &len);
	fd = raw_connect();
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	r = raw_event(fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->event->kind, COMITY__WATCH_KIND__WATCH_SUBSCRIBED);
	assert_null(r->event->item);
	assert_true(r->event->at_ns > 0);
	assert_non_null(strstr(r->event->detail, urgent_only ? "urgent" :
	    "all events"));
	wire_free(r);
	return fd;
}

/* Wait until the server counts N more ended watches than BEFORE. */
static void
wait_watch_ends(int before, int n)
{
	int	i;

	for (i = 0; i < 500 && watch_ends < before + n; i++)
		usleep(10000);
	assert_int_equal(watch_ends, before + n);
}

/* Events reach the watchers whose filter matches, in order. */
static void
test_local_watch_filter(void **state)
{
	Comity__LocalResponse	*r;
	uint8_t			 b;
	int			 all, urg, ends = watch_ends;
	int			 audits = stub.audits;

	(void)state;
	all = raw_watch(0);
	urg = raw_watch(1);
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 1, 0, "normal");
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 1, 1, "urgent");
	publish_special(1, 0, 0, "about no item");
	publish_special(0, 1, 0xab, "by id");	/* the stub: a normal item */
	publish_special(0, 1, 0x00, "unknown id");	/* not sent */
	publish(COMITY__WATCH_KIND__WATCH_STATE, 1, 1, "urgent again");

	r = raw_event(all);
	assert_non_null(r);
	assert_int_equal(r->event->kind, COMITY__WATCH_KIND__WATCH_ARRIVED);
	assert_string_equal(r->event->detail, "normal");
	assert_non_null(r->event->item);
	assert_int_equal(r->event->item->id.len, 16);
	assert_string_equal(r->event->item->from, "BE-FPSJ");
	assert_string_equal(r->event->procedure, "call the duty officer");
	wire_free(r);
	r = raw_event(all);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "urgent");
	assert_int_equal(r->event->item->priority,
	    COMITY__PRIORITY__PRIORITY_URGENT);
	wire_free(r);
	r = raw_event(all);
	assert_non_null(r);
	assert_int_equal(r->event->kind, COMITY__WATCH_KIND__WATCH_WARNING);
	assert_null(r->event->item);
	wire_free(r);
	r = raw_event(all);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "by id");
	assert_int_equal(r->event->kind, COMITY__WATCH_KIND__WATCH_STATE);
	assert_int_equal(r->event->item->id.data[0], 0xab);
	wire_free(r);
	r = raw_event(all);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "urgent again");
	wire_free(r);
	assert_true(saw_unread);

	/* the urgent-only watcher: urgent items and events about none */
	r = raw_event(urg);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "urgent");
	wire_free(r);
	r = raw_event(urg);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "about no item");
	wire_free(r);
	r = raw_event(urg);
	assert_non_null(r);
	assert_string_equal(r->event->detail, "urgent again");
	wire_free(r);

	/* a watcher may not ask for anything more: closed, audited */
	assert_int_equal(write(urg, "\0\0\0\2\x12\0", 6), 6);
	assert_int_equal(read(urg, &b, 1), 0);
	close(urg);
	assert_int_equal(stub.audits, audits + 1);
	close(all);
	wait_watch_ends(ends, 2);
	/* no one watches: publishing is a no-op */
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 10, 0, "nobody");
}

/* What a libcomity watcher thread saw. */
struct lib_watcher {
	pthread_t	 thr;
	comity_conn	*c;
	int		 urgent;
	int		 subscribed;	/* atomic: SUBSCRIBED seen */
	int		 rc;
	int		 after;		/* a request on the connection after */
	int		 first_kind;
	long		 n;		/* events after SUBSCRIBED */
	long		 n_urgent;
	int		 last_kind;
	int		 bad;		/* a malformed event */
	char		 last_detail[64];
	char		 errmsg[128];
};

static int
lib_cb(const struct comity_event *ev, void *arg)
{
	struct lib_watcher	*w = arg;

	if (ev->kind == COMITY_EVENT_SUBSCRIBED) {
		w->first_kind = ev->kind;
		if (ev->has_item || ev->item.from == NULL ||
		    ev->procedure == NULL)
			w->bad = 1;
		__atomic_store_n(&w->subscribed, 1, __ATOMIC_RELEASE);
		return 0;
	}
	w->n++;
	w->last_kind = ev->kind;
	snprintf(w->last_detail, sizeof(w->last_detail), "%s", ev->detail);
	if (ev->has_item) {
		if (strlen(ev->item.id) != 32 || strcmp(ev->item.to,
		    "KE-ODPP") != 0 || ev->at <= 0)
			w->bad = 1;
		if (ev->item.priority == COMITY_PRIORITY_URGENT)
			w->n_urgent++;
	}
	return strcmp(ev->detail, "last") == 0 ? 42 : 0;
}

static void *
lib_main(void *arg)
{
	struct lib_watcher	*w = arg;
	struct comity_item	*it = NULL;

	w->rc = comity_watch(w->c, w->urgent, lib_cb, w);
	snprintf(w->errmsg, sizeof(w->errmsg), "%s", comity_errmsg(w->c));
	w->after = comity_status(w->c, "abababababababababababababababab",
	    &it);
	comity_free(it);
	return NULL;
}

static void
lib_watch_start(struct lib_watcher *w, int urgent)
{
	int	i;

	memset(w, 0, sizeof(*w));
	w->c = conn();
	w->urgent = urgent;
	/* a short timeout: the watch must not be bound by it */
	assert_int_equal(comity_set_timeout(w->c, 300), 0);
	assert_int_equal(pthread_create(&w->thr, NULL, lib_main, w), 0);
	for (i = 0; i < 500 && !__atomic_load_n(&w->subscribed,
	    __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	assert_true(w->subscribed);
}

static void
lib_watch_join(struct lib_watcher *w)
{
	pthread_join(w->thr, NULL);
	comity_close(w->c);
	assert_false(w->bad);
}

/* libcomity's comity_watch(): events through the callback, waiting past
 * the connection's timeout, stopping when the callback says so. */
static void
test_local_watch_lib(void **state)
{
	struct lib_watcher	w, u;
	comity_conn		*c;
	int			 ends = watch_ends;

	(void)state;
	lib_watch_start(&w, 0);
	lib_watch_start(&u, 1);
	usleep(700000);		/* longer than the 300 ms timeout */
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 3, 0, "normal");
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 2, 1, "urgent");
	publish(COMITY__WATCH_KIND__WATCH_STATE, 1, 1, "last");
	lib_watch_join(&w);
	lib_watch_join(&u);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.first_kind, COMITY_EVENT_SUBSCRIBED);
	assert_int_equal(w.n, 6);
	assert_int_equal(w.n_urgent, 3);
	assert_int_equal(w.last_kind, COMITY_EVENT_STATE);
	assert_int_equal(u.rc, 0);
	assert_int_equal(u.n, 3);
	assert_int_equal(u.n_urgent, 3);
	/* the connection carried a watch: nothing more on it */
	assert_int_equal(w.after, COMITY_EINVAL);
	wait_watch_ends(ends, 2);

	/* argument checks, names */
	c = conn();
	assert_int_equal(comity_watch(NULL, 0, lib_cb, NULL), COMITY_EINVAL);
	assert_int_equal(comity_watch(c, 0, NULL, NULL), COMITY_EINVAL);
	comity_close(c);
	assert_string_equal(comity_event_name(COMITY_EVENT_ARRIVED),
	    "ARRIVED");
	assert_string_equal(comity_event_name(COMITY_EVENT_SUBSCRIBED),
	    "SUBSCRIBED");
	assert_string_equal(comity_event_name(0), "UNKNOWN");
	assert_string_equal(comity_event_name(99), "UNKNOWN");
}

/*
 * A watcher that never reads while tens of thousands of events are
 * published: the daemon never waits for it (other clients get their
 * answers at once, a reading watcher gets every event), its unsent
 * events stay bounded, and it is dropped: what was queued, then DROPPED,
 * then the end of the stream.
 */
#define SLOW_BATCHES	40
#define SLOW_BATCH	1000

static void
test_local_watch_slow(void **state)
{
	struct lib_watcher	 fast;
	struct comity_peer	*peers;
	Comity__LocalResponse	*r;
	comity_conn		*c;
	struct timespec		 t0, t1;
	double			 ms, worst = 0;
	size_t			 n;
	long			 got = 0;
	int			 slow, i, last_kind = 0, ends = watch_ends;
	char			 last_detail[128] = "";

	(void)state;
	/* the slow watcher's write timeout must not end it first */
	conf.idle_timeout_ms = 20000;
	saw_slow = 0;
	slow = raw_watch(0);
	lib_watch_start(&fast, 0);
	c = conn();
	for (i = 0; i < SLOW_BATCHES; i++) {
		publish(COMITY__WATCH_KIND__WATCH_STATE, SLOW_BATCH, i & 1,
		    "bulk");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(comity_peers(c, &peers, &n), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		comity_free(peers);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms > worst)
			worst = ms;
	}
	publish(COMITY__WATCH_KIND__WATCH_STATE, 1, 0, "last");
	comity_close(c);
	lib_watch_join(&fast);
	assert_int_equal(fast.rc, 0);
	assert_int_equal(fast.n, SLOW_BATCHES * SLOW_BATCH + 1);
	assert_true(saw_slow);
	/* a request takes one tick of the loop at most, not a blocked write */
	assert_true(worst < 1000);

	/* the slow watcher: a prefix of the events, DROPPED, then EOF */
	while ((r = raw_event(slow)) != NULL) {
		last_kind = r->event->kind;
		snprintf(last_detail, sizeof(last_detail), "%s",
		    r->event->detail);
		if (last_kind != COMITY__WATCH_KIND__WATCH_DROPPED)
			got++;
		wire_free(r);
	}
	close(slow);
	assert_int_equal(last_kind, COMITY__WATCH_KIND__WATCH_DROPPED);
	assert_non_null(strstr(last_detail, "dropped: reading too slowly, "));
	assert_non_null(strstr(last_detail, " events pending"));
	/* about LOCAL_WATCH_OUTPUT_MAX (events of ~110 bytes) plus what
	 * the socket held: far from all of them */
	assert_true(got > 1000);
	assert_true(got < SLOW_BATCHES * SLOW_BATCH / 2);
	wait_watch_ends(ends, 2);
	conf.idle_timeout_ms = 2000;
}

/* Many watchers at once, up to the cap; a request still gets through. */
static void
test_local_watch_many(void **state)
{
	static int		 fds[LOCAL_MAX_WATCHERS];
	Comity__LocalRequest	 rq = COMITY__LOCAL_REQUEST__INIT;
	Comity__WatchReq	 wr = COMITY__WATCH_REQ__INIT;
	Comity__LocalResponse	*r;
	struct comity_peer	*peers;
	comity_conn		*c;
	uint8_t			*p;
	size_t			 len, n;
	int			 i, fd, ends = watch_ends;

	(void)state;
	for (i = 0; i < LOCAL_MAX_WATCHERS; i++)
		fds[i] = raw_watch(i % 3 == 0);
	/* one more: refused, and the connection stays usable */
	rq.op_case = COMITY__LOCAL_REQUEST__OP_WATCH;
	rq.watch = &wr;
	p = raw_request(&rq, &len);
	fd = raw_connect();
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	free(p);
	r = raw_response(fd);
	assert_non_null(r);
	assert_int_equal(r->error, COMITY_EAGAIN);
	assert_null(r->event);
	wire_free(r);
	close(fd);
	c = conn();
	assert_int_equal(comity_peers(c, &peers, &n), 0);
	comity_free(peers);
	comity_close(c);
	publish(COMITY__WATCH_KIND__WATCH_ARRIVED, 1, 1, "to all");
	for (i = 0; i < LOCAL_MAX_WATCHERS; i++) {
		r = raw_event(fds[i]);
		assert_non_null(r);
		assert_string_equal(r->event->detail, "to all");
		wire_free(r);
		close(fds[i]);
	}
	wait_watch_ends(ends, LOCAL_MAX_WATCHERS);
}

/* An idle client is closed after the idle timeout. */
static void
test_local_idle(void **state)
{
	uint8_t	b;
	int	fd;

	(void)state;
	fd = raw_connect();
	/* idle_timeout_ms is 2 s; the read below waits up to 5 s */
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

/* Start-up: a stale socket is replaced, a live one refused. */
static void
test_local_stale_socket(void **state)
{
	struct sockaddr_un	sun;
	char			err[256];
	int			fd;

	(void)state;
	setup_cd();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	/* bound but not listening: connect() is refused, like a dead daemon */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(local_listen(err, sizeof(err)), 0);
	local_close();
	/* something answers: refuse to start */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(local_listen(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	close(fd);
	unlink(sockpath);
	/* not a socket: refuse */
	fd = open(sockpath, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(local_listen(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	unlink(sockpath);
	/* an unknown group */
	conf.group = (char *)"no-such-group-comity";
	assert_int_equal(local_listen(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such group"));
	assert_int_equal(access(sockpath, F_OK), -1);
	conf.group = NULL;
	event_base_free(cd->base);
	cd->base = NULL;
	rmdir(tdir);
}

int
run_local_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_ops),
		cmocka_unit_test(test_local_list),
		cmocka_unit_test(test_local_list_sparse),
		cmocka_unit_test(test_local_audit),
		cmocka_unit_test(test_local_pipelined),
		cmocka_unit_test(test_local_bad_length),
		cmocka_unit_test(test_local_garbage),
		cmocka_unit_test(test_local_unknown_op),
		cmocka_unit_test(test_local_client_leaves),
		cmocka_unit_test(test_local_batch),
		cmocka_unit_test(test_local_batch_bounds),
		cmocka_unit_test(test_local_batch_leaves),
		cmocka_unit_test(test_local_watch_filter),
		cmocka_unit_test(test_local_watch_lib),
		cmocka_unit_test(test_local_watch_slow),
		cmocka_unit_test(test_local_watch_many),
		cmocka_unit_test(test_local_idle),
		cmocka_unit_test(test_local_close_pending),
	};
	const struct CMUnitTest alone[] = {
		cmocka_unit_test(test_local_stale_socket),
	};
	int	rc;

	log_init("test", LOG_LVL_WARN);
	log_set_hook(log_hook);
	/* as comityd does: a write to a client that left must not kill us */
	signal(SIGPIPE, SIG_IGN);
	rc = cmocka_run_group_tests_name("local server", tests, server_start,
	    server_stop);
	return rc + cmocka_run_group_tests_name("local socket", alone, NULL,
	    NULL);
}
