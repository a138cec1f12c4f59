/*
 * test_client.c - libcomity against a fake daemon: request encoding,
 * response decoding, paging, errors, hostile responses; and the CLI's
 * output functions (escaping of invalid UTF-8, times).
 *
 * The fake daemon is a thread serving one connection on a temporary Unix
 * socket.  It records what it decoded; the test thread asserts on it
 * after joining (cmocka's assertions must stay in the test thread).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "comity.h"
#include "frame.h"
#include "internal.h"
#include "output.h"
#include "wire.h"

#define MAXREQ	8

/* test_client_local.c: the same library against daemon/local.c */
int	run_local_tests(void);

struct srv;
typedef void	(*handler_fn)(int fd, struct srv *);

struct srv {
	char			 dir[64];
	char			 path[96];
	int			 lfd;
	pthread_t		 thr;
	handler_fn		 fn;
	Comity__LocalRequest	*req[MAXREQ];	/* what the server decoded */
	int			 nreq;
};

/* ------------------------------------------------------------ fake daemon */

static int
read_full(int fd, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one request and keep it in s->req; NULL at EOF or on garbage. */
static Comity__LocalRequest *
srv_read(int fd, struct srv *s)
{
	uint8_t			 hdr[4], *buf;
	uint32_t		 len;
	Comity__LocalRequest	*r;

	if (read_full(fd, hdr, 4) != 0 ||
	    frame_length(hdr, LOCAL_FRAME_MAX, &len) != 0)
		return NULL;
	if ((buf = malloc(len)) == NULL || read_full(fd, buf, len) != 0) {
		free(buf);
		return NULL;
	}
	r = wire_unpack(&comity__local_request__descriptor, buf, len);
	free(buf);
	if (r != NULL && s->nreq < MAXREQ)
		s->req[s->nreq++] = r;
	else
		wire_free(r);
	return r;
}

static void
srv_send(int fd, const Comity__LocalResponse *resp)
{
	size_t	 len;
	uint8_t	*buf = wire_pack(&resp->base, 1, &len);

	if (buf != NULL)
		(void)write_full(fd, buf, len);
	free(buf);
}

static void *
srv_main(void *arg)
{
	struct srv	*s = arg;
	int		 fd;

	fd = accept(s->lfd, NULL, NULL);
	if (fd != -1) {
		s->fn(fd, s);
		close(fd);
	}
	return NULL;
}

/* The requests of the last server stay readable until the next one. */
static Comity__LocalRequest	*kept[MAXREQ];

static void
kept_free(void)
{
	for (int i = 0; i < MAXREQ; i++) {
		wire_free(kept[i]);
		kept[i] = NULL;
	}
}

static void
srv_start(struct srv *s, handler_fn fn)
{
	struct sockaddr_un	sun;

	kept_free();
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/comity-test-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/s.sock", s->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	s->fn = fn;
	assert_int_equal(pthread_create(&s->thr, NULL, srv_main, s), 0);
}

static void
srv_stop(struct srv *s)
{
	pthread_join(s->thr, NULL);
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
	for (int i = 0; i < s->nreq; i++)
		kept[i] = s->req[i];
}

static comity_conn *
conn_to(struct srv *s)
{
	comity_conn	*c = NULL;

	assert_int_equal(comity_connect(s->path, &c), 0);
	assert_non_null(c);
	assert_int_equal(comity_set_timeout(c, 10000), 0);
	return c;
}

static uint8_t	ID1[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
#define ID1HEX	"00112233445566778899aabbccddeeff"

/* ------------------------------------------------------------ submit */

static void
h_submit(int fd, struct srv *s)
{
	Comity__LocalResponse	resp = COMITY__LOCAL_RESPONSE__INIT;

	if (srv_read(fd, s) == NULL)
		return;
	resp.id.data = ID1;
	resp.id.len = 16;
	resp.existed = 1;
	srv_send(fd, &resp);
}

static void
test_submit(void **state)
{
	static const uint8_t	 pdf[] = "%PDF-1.7 \0binary\xff";
	struct comity_doc	 docs[2] = {
		{ "letter.pdf", "application/pdf", pdf, sizeof(pdf) },
		{ "empty.txt", NULL, NULL, 0 },
	};
	struct comity_submit	 sub;
	struct srv		 s;
	comity_conn		*c;
	Comity__SubmitReq	*r;
	char			 id[33];
	int			 existed = -1;

	(void)state;
	srv_start(&s, h_submit);
	c = conn_to(&s);
	memset(&sub, 0, sizeof(sub));
	sub.to = "KE-ODPP";
	sub.type = COMITY_TYPE_EXTRADITION;
	sub.urgent = 1;
	sub.case_ref = "BE/2026/17";
	sub.basis = "UNTOC art. 16";
	sub.lang = "en";
	sub.subject = "Extradition of X";
	sub.reply_to = "FFEEDDCCBBAA99887766554433221100";
	sub.expires_at_ns = INT64_C(1900000000000000000);
	sub.idempotency_key = "key-1";
	sub.their_ref = "KE/77";
	sub.docs = docs;
	sub.ndocs = 2;
	assert_int_equal(comity_submit(c, &sub, id, &existed), 0);
	assert_string_equal(id, ID1HEX);
	assert_int_equal(existed, 1);
	comity_close(c);
	srv_stop(&s);

	assert_int_equal(s.nreq, 1);
	assert_int_equal(s.req[0]->op_case, COMITY__LOCAL_REQUEST__OP_SUBMIT);
	r = s.req[0]->submit;
	assert_string_equal(r->to, "KE-ODPP");
	assert_int_equal(r->type, COMITY__REQUEST_TYPE__TYPE_EXTRADITION);
	assert_int_equal(r->priority, COMITY__PRIORITY__PRIORITY_URGENT);
	assert_string_equal(r->case_ref, "BE/2026/17");
	assert_string_equal(r->legal_basis, "UNTOC art. 16");
	assert_string_equal(r->language, "en");
	assert_string_equal(r->subject, "Extradition of X");
	assert_string_equal(r->their_ref, "KE/77");
	assert_string_equal(r->idempotency_key, "key-1");
	assert_int_equal(r->expires_at_ns, INT64_C(1900000000000000000));
	assert_int_equal(r->in_reply_to.len, 16);
	assert_int_equal(r->in_reply_to.data[0], 0xff);
	assert_int_equal(r->in_reply_to.data[15], 0x00);
	assert_int_equal(r->n_documents, 2);
	assert_string_equal(r->documents[0]->name, "letter.pdf");
	assert_string_equal(r->documents[0]->media_type, "application/pdf");
	assert_int_equal(r->documents[0]->content.len, sizeof(pdf));
	assert_memory_equal(r->documents[0]->content.data, pdf, sizeof(pdf));
	assert_string_equal(r->documents[1]->name, "empty.txt");
	assert_string_equal(r->documents[1]->media_type,
	    "application/octet-stream");
	assert_int_equal(r->documents[1]->content.len, 0);
}

/* Bad arguments are refused before anything is sent. */
static void
h_none(int fd, struct srv *s)
{
	(void)srv_read(fd, s);
}

static void
test_submit_invalid(void **state)
{
	struct comity_doc	 d = { "a.txt", NULL, (const uint8_t *)"x", 1 };
	struct comity_submit	 sub;
	struct srv		 s;
	comity_conn		*c;
	char			 id[33];

	(void)state;
	srv_start(&s, h_none);
	c = conn_to(&s);
	memset(&sub, 0, sizeof(sub));
	sub.to = "not an id";
	sub.type = COMITY_TYPE_MLA;
	sub.docs = &d;
	sub.ndocs = 1;
	assert_int_equal(comity_submit(c, &sub, id, NULL), COMITY_EINVAL);
	assert_string_not_equal(comity_errmsg(c), "");
	sub.to = "KE-ODPP";
	sub.type = 42;
	assert_int_equal(comity_submit(c, &sub, id, NULL), COMITY_EINVAL);
	sub.type = COMITY_TYPE_MLA;
	sub.reply_to = "xyz";
	assert_int_equal(comity_submit(c, &sub, id, NULL), COMITY_EINVAL);
	sub.reply_to = NULL;
	/* allocation failure injected into the first allocation */
	cm_test.fail_after = 1;
	assert_int_equal(comity_submit(c, &sub, id, NULL), COMITY_ENOMEM);
	cm_test.fail_after = 0;
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(s.nreq, 0);
}

/* ------------------------------------------------------------ batch */

/*
 * Batch answers of the fake daemon, chosen by the first item's subject:
 * "whole" refuses the whole batch, "short" gives one result too few,
 * "noid" a success without an id.  Otherwise one result per item: a
 * two-line refusal for a request to KE-BAD, else ID1 with its last byte
 * the item's position, existed for the key "known".
 */
static void
h_batch(int fd, struct srv *s)
{
	Comity__LocalRequest	*rq;
	Comity__LocalResponse	 resp;
	Comity__SubmitResult	 res[COMITY_BATCH_MAX], *rp[COMITY_BATCH_MAX];
	uint8_t			 ids[COMITY_BATCH_MAX][16];
	const Comity__SubmitReq	*it;
	const char		*how;
	size_t			 i, n;

	while ((rq = srv_read(fd, s)) != NULL) {
		comity__local_response__init(&resp);
		if (rq->op_case != COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH ||
		    rq->submit_batch->n_items == 0 ||
		    rq->submit_batch->n_items > COMITY_BATCH_MAX) {
			resp.error = COMITY_EPROTO;
			srv_send(fd, &resp);
			continue;
		}
		n = rq->submit_batch->n_items;
		how = rq->submit_batch->items[0]->subject;
		if (strcmp(how, "whole") == 0) {
			resp.error = COMITY_EAGAIN;
			resp.message = (char *)"busy, try again later";
			srv_send(fd, &resp);
			continue;
		}
		for (i = 0; i < n; i++) {
			it = rq->submit_batch->items[i];
			comity__submit_result__init(&res[i]);
			rp[i] = &res[i];
			if (strcmp(it->to, "KE-BAD") == 0) {
				res[i].error = COMITY_EUNKNOWNPEER;
				res[i].message = (char *)"KE-BAD is not "
				    "in\nthe directory";
				continue;
			}
			memcpy(ids[i], ID1, 16);
			ids[i][15] = (uint8_t)i;
			if (strcmp(how, "noid") != 0) {
				res[i].id.data = ids[i];
				res[i].id.len = 16;
			}
			res[i].existed = strcmp(it->idempotency_key, "known") ==
			    0;
		}
		resp.message = (char *)"ok";
		resp.n_results = strcmp(how, "short") == 0 ? n - 1 : n;
		resp.results = rp;
		srv_send(fd, &resp);
	}
}

static void
batch_reqs(struct comity_submit *r, size_t n, const struct comity_doc *d)
{
	size_t	i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].to = "KE-ODPP";
		r[i].type = COMITY_TYPE_MLA;
		r[i].docs = d;
		r[i].ndocs = 1;
	}
}

static void
test_submit_batch(void **state)
{
	struct comity_doc		 d = { "a.txt", NULL,
					    (const uint8_t *)"x", 1 };
	struct comity_submit		 reqs[5], *big;
	struct comity_submit_result	 res[5], *bigres;
	Comity__SubmitBatchReq		*b;
	struct srv			 s;
	comity_conn			*c;
	size_t				 i;

	(void)state;
	big = calloc(COMITY_BATCH_MAX + 1, sizeof(*big));
	bigres = calloc(COMITY_BATCH_MAX + 1, sizeof(*bigres));
	assert_non_null(big);
	assert_non_null(bigres);
	batch_reqs(reqs, 5, &d);
	reqs[0].subject = "first";
	reqs[0].urgent = 1;
	reqs[1].to = "not an id";		/* refused here, not sent */
	reqs[2].idempotency_key = "known";
	reqs[3].to = "KE-BAD";			/* refused by the daemon */
	reqs[4].reply_to = ID1HEX;
	srv_start(&s, h_batch);
	c = conn_to(&s);
	memset(res, 0x55, sizeof(res));
	assert_int_equal(comity_submit_batch(c, reqs, 5, res), 0);
	assert_int_equal(res[0].error, 0);
	assert_string_equal(res[0].id, "00112233445566778899aabbccddee00");
	assert_int_equal(res[0].existed, 0);
	assert_string_equal(res[0].message, "");
	assert_int_equal(res[1].error, COMITY_EINVAL);
	assert_string_equal(res[1].id, "");
	assert_string_equal(res[1].message, "invalid recipient authority id");
	assert_int_equal(res[2].error, 0);
	assert_string_equal(res[2].id, "00112233445566778899aabbccddee01");
	assert_int_equal(res[2].existed, 1);
	assert_int_equal(res[3].error, COMITY_EUNKNOWNPEER);
	assert_string_equal(res[3].id, "");
	/* one line, whatever the daemon sent */
	assert_string_equal(res[3].message, "KE-BAD is not in");
	assert_int_equal(res[4].error, 0);
	assert_string_equal(res[4].id, "00112233445566778899aabbccddee03");

	/* only bad requests: each has its reason, nothing is sent */
	assert_int_equal(comity_submit_batch(c, &reqs[1], 1, res), 0);
	assert_int_equal(res[0].error, COMITY_EINVAL);
	assert_string_equal(res[0].message, "invalid recipient authority id");

	/* above the bound, or empty: refused before anything is sent */
	batch_reqs(big, COMITY_BATCH_MAX + 1, &d);
	assert_int_equal(comity_submit_batch(c, big, COMITY_BATCH_MAX + 1,
	    bigres), COMITY_ETOOBIG);
	assert_non_null(strstr(comity_errmsg(c), "at most 256 in one batch"));
	assert_int_equal(bigres[0].error, COMITY_ETOOBIG);
	assert_int_equal(bigres[COMITY_BATCH_MAX].error, COMITY_ETOOBIG);
	assert_non_null(strstr(bigres[COMITY_BATCH_MAX].message, "at most"));
	assert_int_equal(comity_submit_batch(c, big, 0, bigres), COMITY_EINVAL);
	assert_int_equal(comity_submit_batch(c, NULL, 1, bigres),
	    COMITY_EINVAL);
	assert_int_equal(comity_submit_batch(c, big, 1, NULL), COMITY_EINVAL);
	assert_int_equal(comity_submit_batch(NULL, big, 1, bigres),
	    COMITY_EINVAL);

	/* allocation failures, call by call: every result says so */
	for (i = 1; i <= 4; i++) {
		cm_test.fail_after = (long)i;
		assert_int_equal(comity_submit_batch(c, reqs, 5, res),
		    COMITY_ENOMEM);
		assert_int_equal(res[0].error, COMITY_ENOMEM);
		assert_int_equal(res[4].error, COMITY_ENOMEM);
	}
	cm_test.fail_after = 0;

	/* the largest batch goes whole */
	assert_int_equal(comity_submit_batch(c, big, COMITY_BATCH_MAX,
	    bigres), 0);
	for (i = 0; i < COMITY_BATCH_MAX; i++)
		assert_int_equal(bigres[i].error, 0);
	assert_string_equal(bigres[COMITY_BATCH_MAX - 1].id,
	    "00112233445566778899aabbccddeeff");

	/* the daemon refuses the whole batch */
	reqs[0].subject = "whole";
	assert_int_equal(comity_submit_batch(c, reqs, 5, res), COMITY_EAGAIN);
	assert_int_equal(res[0].error, COMITY_EAGAIN);
	assert_int_equal(res[4].error, COMITY_EAGAIN);
	assert_string_equal(res[4].message, "busy, try again later");
	assert_string_equal(comity_errmsg(c), "busy, try again later");
	comity_close(c);
	srv_stop(&s);

	assert_int_equal(s.nreq, 3);
	assert_int_equal(s.req[0]->op_case,
	    COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH);
	b = s.req[0]->submit_batch;
	assert_int_equal(b->n_items, 4);
	assert_string_equal(b->items[0]->subject, "first");
	assert_int_equal(b->items[0]->priority,
	    COMITY__PRIORITY__PRIORITY_URGENT);
	assert_int_equal(b->items[0]->n_documents, 1);
	assert_string_equal(b->items[0]->documents[0]->name, "a.txt");
	assert_string_equal(b->items[1]->idempotency_key, "known");
	assert_string_equal(b->items[2]->to, "KE-BAD");
	assert_int_equal(b->items[3]->in_reply_to.len, 16);
	assert_memory_equal(b->items[3]->in_reply_to.data, ID1, 16);
	assert_int_equal(s.req[1]->submit_batch->n_items, COMITY_BATCH_MAX);
	free(big);
	free(bigres);
}

/* A daemon whose results do not match the batch: a broken connection. */
static void
test_submit_batch_hostile(void **state)
{
	static const char	*const hows[] = { "short", "noid" };
	struct comity_doc		 d = { "a.txt", NULL,
					    (const uint8_t *)"x", 1 };
	struct comity_submit		 reqs[3];
	struct comity_submit_result	 res[3];
	struct srv			 s;
	comity_conn			*c;
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		batch_reqs(reqs, 3, &d);
		reqs[0].subject = hows[i];
		srv_start(&s, h_batch);
		c = conn_to(&s);
		assert_int_equal(comity_submit_batch(c, reqs, 3, res),
		    COMITY_EPROTO);
		assert_non_null(strstr(comity_errmsg(c), "malformed response"));
		assert_int_equal(res[0].error, COMITY_EPROTO);
		assert_int_equal(res[2].error, COMITY_EPROTO);
		assert_string_equal(res[2].id, "");
		/* the stream position is lost */
		assert_int_equal(comity_submit_batch(c, reqs, 3, res),
		    COMITY_EPROTO);
		comity_close(c);
		srv_stop(&s);
		assert_int_equal(s.nreq, 1);
	}
}

/* ------------------------------------------------------------ status */

static Comity__ItemInfo *
make_item(uint64_t seq, Comity__Times *t)
{
	Comity__ItemInfo	*it = calloc(1, sizeof(*it));

	comity__item_info__init(it);
	comity__times__init(t);
	it->id.data = ID1;
	it->id.len = 16;
	it->box = COMITY__BOX__BOX_OUT;
	it->state = COMITY__STATE__STATE_DELIVERED;
	it->from = (char *)"BE-FPSJ";
	it->to = (char *)"KE-ODPP";
	it->priority = COMITY__PRIORITY__PRIORITY_URGENT;
	it->type = COMITY__REQUEST_TYPE__TYPE_MLA;
	it->case_ref = (char *)"case\xff";
	t->submitted_at = 1000;
	t->sent_at = 2000;
	t->delivered_at = 3000;
	it->times = t;
	it->reason = (char *)"";
	it->seq = seq;
	it->body_size = 4096;
	it->documents = 3;
	it->has_delivered_receipt = 1;
	return it;
}

static void
h_status(int fd, struct srv *s)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__LocalResponse	 err = COMITY__LOCAL_RESPONSE__INIT;
	Comity__Times		 t;
	Comity__ItemInfo	*it = make_item(7, &t);

	/* first: an error with a reason; second: the item */
	if (srv_read(fd, s) == NULL)
		goto out;
	err.error = COMITY_ENOTFOUND;
	err.message = (char *)"no such request\nsecond line";
	srv_send(fd, &err);
	if (srv_read(fd, s) == NULL)
		goto out;
	resp.n_items = 1;
	resp.items = &it;
	srv_send(fd, &resp);
out:
	free(it);
}

static void
test_status_and_error(void **state)
{
	struct srv		 s;
	comity_conn		*c;
	struct comity_item	*it = NULL;

	(void)state;
	srv_start(&s, h_status);
	c = conn_to(&s);
	assert_int_equal(comity_status(c, ID1HEX, &it), COMITY_ENOTFOUND);
	assert_null(it);
	/* the reason arrives, cut to one line */
	assert_string_equal(comity_errmsg(c), "no such request");
	/* an error response leaves the connection usable */
	assert_int_equal(comity_status(c, "00112233445566778899AABBCCDDEEFF",
	    &it), 0);
	assert_non_null(it);
	assert_string_equal(it->id, ID1HEX);
	assert_int_equal(it->state, COMITY_STATE_DELIVERED);
	assert_int_equal(it->priority, COMITY_PRIORITY_URGENT);
	assert_string_equal(it->from, "BE-FPSJ");
	assert_string_equal(it->to, "KE-ODPP");
	assert_string_equal(it->case_ref, "case\xff");
	assert_int_equal(it->submitted_at, 1000);
	assert_int_equal(it->sent_at, 2000);
	assert_int_equal(it->delivered_at, 3000);
	assert_int_equal(it->retrieved_at, 0);
	assert_int_equal(it->seq, 7);
	assert_int_equal(it->documents, 3);
	assert_int_equal(it->body_size, 4096);
	assert_true(it->has_delivered_receipt);
	assert_false(it->has_retrieved_receipt);
	assert_string_equal(it->reason, "");
	comity_free(it);
	/* a bad id is refused locally */
	assert_int_equal(comity_status(c, "0011", &it), COMITY_EINVAL);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(s.nreq, 2);
	assert_int_equal(s.req[0]->op_case, COMITY__LOCAL_REQUEST__OP_STATUS);
	assert_memory_equal(s.req[1]->status->id.data, ID1, 16);
}

/* ------------------------------------------------------------ list */

static void
h_list(int fd, struct srv *s)
{
	Comity__Times		 t[5];
	Comity__ItemInfo	*it[5];
	int			 page;

	for (int i = 0; i < 5; i++)
		it[i] = make_item((uint64_t)(i + 1) * 10, &t[i]);
	/* pages: seq 10,20 / 30,40 / 50 */
	for (page = 0; page < 3; page++) {
		Comity__LocalResponse resp = COMITY__LOCAL_RESPONSE__INIT;

		if (srv_read(fd, s) == NULL)
			break;
		resp.items = &it[page * 2];
		resp.n_items = page < 2 ? 2 : 1;
		resp.more = page < 2;
		srv_send(fd, &resp);
	}
	for (int i = 0; i < 5; i++)
		free(it[i]);
}

struct seen {
	uint64_t	seq[10];
	int		n;
	int		stop_at;
};

static int
collect(const struct comity_item *it, void *arg)
{
	struct seen	*sn = arg;

	sn->seq[sn->n++] = it->seq;
	return sn->n == sn->stop_at ? 99 : 0;
}

static void
test_list_paging(void **state)
{
	struct comity_list_opts	 lo;
	struct seen		 sn;
	struct srv		 s;
	comity_conn		*c;

	(void)state;
	srv_start(&s, h_list);
	c = conn_to(&s);
	memset(&lo, 0, sizeof(lo));
	memset(&sn, 0, sizeof(sn));
	lo.box = COMITY_BOX_IN;
	lo.urgent_only = 1;
	lo.state = COMITY_STATE_RECEIVED;
	lo.since_ns = 12345;
	lo.page_size = 2;
	assert_int_equal(comity_list(c, &lo, collect, &sn), 0);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(sn.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sn.seq[i], (uint64_t)(i + 1) * 10);
	assert_int_equal(s.nreq, 3);
	assert_int_equal(s.req[0]->list->after_seq, 0);
	assert_int_equal(s.req[1]->list->after_seq, 20);
	assert_int_equal(s.req[2]->list->after_seq, 40);
	for (int i = 0; i < 3; i++) {
		Comity__ListReq *l = s.req[i]->list;

		assert_int_equal(s.req[i]->op_case,
		    COMITY__LOCAL_REQUEST__OP_LIST);
		assert_int_equal(l->box, COMITY__BOX__BOX_IN);
		assert_true(l->urgent_only);
		assert_int_equal(l->state, COMITY__STATE__STATE_RECEIVED);
		assert_int_equal(l->since_ns, 12345);
		assert_int_equal(l->limit, 2);
	}
}

static void
test_list_stop(void **state)
{
	struct seen	 sn;
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_list);
	c = conn_to(&s);
	memset(&sn, 0, sizeof(sn));
	sn.stop_at = 3;
	/* the callback's value comes back and no further page is asked */
	assert_int_equal(comity_list(c, NULL, collect, &sn), 99);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(sn.n, 3);
	assert_int_equal(s.nreq, 2);
	assert_int_equal(s.req[0]->list->box, COMITY__BOX__BOX_OUT);
}

/* A daemon whose cursor does not move forward must not loop us. */
static void
h_list_stuck(int fd, struct srv *s)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__Times		 t;
	Comity__ItemInfo	*it = make_item(0, &t);

	if (srv_read(fd, s) != NULL) {
		resp.items = &it;
		resp.n_items = 1;
		resp.more = 1;
		srv_send(fd, &resp);
	}
	free(it);
}

static void
test_list_stuck(void **state)
{
	struct seen	 sn;
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_list_stuck);
	c = conn_to(&s);
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(comity_list(c, NULL, collect, &sn), COMITY_EPROTO);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(sn.n, 0);
}

/* ------------------------------------------------------------ fetch */

static void
h_fetch(int fd, struct srv *s)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__Request		 rq = COMITY__REQUEST__INIT;
	Comity__Document	 d[2], *dp[2] = { &d[0], &d[1] };
	static uint8_t		 big[100000];

	memset(big, 'z', sizeof(big));
	comity__document__init(&d[0]);
	comity__document__init(&d[1]);
	d[0].name = (char *)"request.pdf";
	d[0].media_type = (char *)"application/pdf";
	d[0].content.data = (uint8_t *)"%PDF";
	d[0].content.len = 4;
	d[1].name = (char *)"annex.bin";
	d[1].media_type = (char *)"application/octet-stream";
	d[1].content.data = big;
	d[1].content.len = sizeof(big);
	rq.id.data = ID1;
	rq.id.len = 16;
	rq.from = (char *)"KE-ODPP";
	rq.to = (char *)"BE-FPSJ";
	rq.type = COMITY__REQUEST_TYPE__TYPE_CONFISCATION;
	rq.legal_basis = (char *)"art. 13";
	rq.case_ref = (char *)"KE/1";
	rq.their_ref = (char *)"BE/9";
	rq.language = (char *)"sw";
	rq.subject = (char *)"Freeze";
	rq.created_at_ns = 42;
	rq.in_reply_to.data = ID1;
	rq.in_reply_to.len = 16;
	rq.n_documents = 2;
	rq.documents = dp;
	resp.request = &rq;
	if (srv_read(fd, s) != NULL)
		srv_send(fd, &resp);
}

static void
test_fetch(void **state)
{
	struct srv		 s;
	comity_conn		*c;
	struct comity_request	*rq = NULL;

	(void)state;
	srv_start(&s, h_fetch);
	c = conn_to(&s);
	assert_int_equal(comity_fetch(c, ID1HEX, &rq), 0);
	assert_non_null(rq);
	assert_string_equal(rq->id, ID1HEX);
	assert_string_equal(rq->from, "KE-ODPP");
	assert_string_equal(rq->to, "BE-FPSJ");
	assert_int_equal(rq->type, COMITY_TYPE_CONFISCATION);
	assert_string_equal(rq->basis, "art. 13");
	assert_string_equal(rq->case_ref, "KE/1");
	assert_string_equal(rq->their_ref, "BE/9");
	assert_string_equal(rq->reply_to, ID1HEX);
	assert_string_equal(rq->lang, "sw");
	assert_string_equal(rq->subject, "Freeze");
	assert_int_equal(rq->created_at, 42);
	assert_int_equal(rq->ndocs, 2);
	assert_string_equal(rq->docs[0].name, "request.pdf");
	assert_int_equal(rq->docs[0].len, 4);
	assert_memory_equal(rq->docs[0].data, "%PDF", 4);
	assert_string_equal(rq->docs[1].name, "annex.bin");
	assert_int_equal(rq->docs[1].len, 100000);
	assert_int_equal(rq->docs[1].data[99999], 'z');
	comity_request_free(rq);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(s.req[0]->op_case, COMITY__LOCAL_REQUEST__OP_FETCH);
	assert_memory_equal(s.req[0]->fetch->id.data, ID1, 16);
}

/* ------------------------------------------------------------ ack, cancel,
 * receipt, peers, directory over one connection */

static void
h_misc(int fd, struct srv *s)
{
	Comity__LocalResponse	 ok = COMITY__LOCAL_RESPONSE__INIT;
	Comity__LocalResponse	 st = COMITY__LOCAL_RESPONSE__INIT;
	Comity__LocalResponse	 rc = COMITY__LOCAL_RESPONSE__INIT;
	Comity__LocalResponse	 pr = COMITY__LOCAL_RESPONSE__INIT;
	Comity__LocalResponse	 dr = COMITY__LOCAL_RESPONSE__INIT;
	Comity__PeerInfo	 p[2], *pp[2] = { &p[0], &p[1] };
	Comity__DirEntry	 d, *dp = &d;
	char			*acc[2] = { (char *)"mla", (char *)"extradition" };
	char			*lang[2] = { (char *)"en", (char *)"sw" };

	comity__peer_info__init(&p[0]);
	comity__peer_info__init(&p[1]);
	p[0].id = (char *)"KE-ODPP";
	p[0].up = 1;
	p[0].queued = 3;
	p[0].clock_skew_ns = -5000000;
	p[1].id = (char *)"FR-DACG";
	p[1].last_error = (char *)"connection refused";
	pr.peers = pp;
	pr.n_peers = 2;
	comity__dir_entry__init(&d);
	d.id = (char *)"KE-ODPP";
	d.name = (char *)"ODPP";
	d.accepts = acc;
	d.n_accepts = 2;
	d.languages = lang;
	d.n_languages = 2;
	d.self = 1;
	dr.directory = &dp;
	dr.n_directory = 1;
	/* what comityd sends for a success with nothing to report (an
	 * empty message would be an empty, invalid frame) */
	ok.message = (char *)"ok";
	st.error = COMITY_ESTATE;
	rc.receipt.data = (uint8_t *)"\x30\x82\x01\x00";
	rc.receipt.len = 4;

	if (srv_read(fd, s) == NULL)		/* ack */
		return;
	srv_send(fd, &ok);
	if (srv_read(fd, s) == NULL)		/* cancel */
		return;
	srv_send(fd, &st);
	if (srv_read(fd, s) == NULL)		/* receipt */
		return;
	srv_send(fd, &rc);
	if (srv_read(fd, s) == NULL)		/* peers */
		return;
	srv_send(fd, &pr);
	if (srv_read(fd, s) == NULL)		/* directory */
		return;
	srv_send(fd, &dr);
}

static void
test_misc_ops(void **state)
{
	struct srv		 s;
	comity_conn		*c;
	uint8_t			*der = NULL;
	size_t			 len = 0, n = 0;
	struct comity_peer	*peers = NULL;
	struct comity_dir_entry	*dir = NULL;

	(void)state;
	srv_start(&s, h_misc);
	c = conn_to(&s);
	assert_int_equal(comity_ack(c, ID1HEX), 0);
	assert_int_equal(comity_cancel(c, ID1HEX), COMITY_ESTATE);
	/* no message from the daemon: the code's own text */
	assert_string_equal(comity_errmsg(c), comity_strerror(COMITY_ESTATE));
	assert_int_equal(comity_receipt(c, ID1HEX, COMITY_RECEIPT_RETRIEVED,
	    &der, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(der, "\x30\x82\x01\x00", 4);
	comity_free(der);
	assert_int_equal(comity_peers(c, &peers, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(peers[0].id, "KE-ODPP");
	assert_true(peers[0].up);
	assert_int_equal(peers[0].queued, 3);
	assert_int_equal(peers[0].clock_skew_ns, -5000000);
	assert_string_equal(peers[0].last_error, "");
	assert_string_equal(peers[1].id, "FR-DACG");
	assert_string_equal(peers[1].last_error, "connection refused");
	assert_string_equal(peers[1].name, "");
	comity_free(peers);
	assert_int_equal(comity_directory(c, &dir, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(dir[0].id, "KE-ODPP");
	assert_string_equal(dir[0].name, "ODPP");
	assert_int_equal(dir[0].naccepts, 2);
	assert_string_equal(dir[0].accepts[1], "extradition");
	assert_int_equal(dir[0].nlanguages, 2);
	assert_string_equal(dir[0].languages[0], "en");
	assert_string_equal(dir[0].languages[1], "sw");
	assert_string_equal(dir[0].pin, "");
	assert_true(dir[0].self);
	comity_free(dir);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(s.nreq, 5);
	assert_int_equal(s.req[0]->op_case, COMITY__LOCAL_REQUEST__OP_ACK);
	assert_int_equal(s.req[1]->op_case, COMITY__LOCAL_REQUEST__OP_CANCEL);
	assert_int_equal(s.req[2]->op_case, COMITY__LOCAL_REQUEST__OP_RECEIPT);
	assert_int_equal(s.req[2]->receipt->kind,
	    COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED);
	assert_int_equal(s.req[3]->op_case, COMITY__LOCAL_REQUEST__OP_PEERS);
	assert_int_equal(s.req[4]->op_case,
	    COMITY__LOCAL_REQUEST__OP_DIRECTORY);
}

/* ------------------------------------------------------------ hostile */

/* A length above the bound, then silence: the client must refuse it from
 * the header alone (not wait for the body, not allocate it). */
static void
h_oversize(int fd, struct srv *s)
{
	uint8_t	hdr[4], b;

	if (srv_read(fd, s) == NULL)
		return;
	frame_put_header(hdr, (uint32_t)LOCAL_FRAME_MAX + 1);
	(void)write_full(fd, hdr, 4);
	(void)read(fd, &b, 1);		/* until the client closes */
}

static void
test_oversize_response(void **state)
{
	struct srv		 s;
	comity_conn		*c;
	struct comity_item	*it = NULL;
	struct timespec		 t0, t1;

	(void)state;
	srv_start(&s, h_oversize);
	c = conn_to(&s);
	assert_int_equal(comity_set_timeout(c, 5000), 0);
	cm_test.largest = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(comity_status(c, ID1HEX, &it), COMITY_EPROTO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_true(cm_test.largest < 4096);
	assert_non_null(strstr(comity_errmsg(c), "above the limit"));
	/* the stream position is lost: the connection stays dead */
	assert_int_equal(comity_status(c, ID1HEX, &it), COMITY_EPROTO);
	comity_close(c);
	srv_stop(&s);
}

static void
h_zero(int fd, struct srv *s)
{
	uint8_t	hdr[4] = { 0, 0, 0, 0 };

	if (srv_read(fd, s) != NULL)
		(void)write_full(fd, hdr, 4);
}

static void
test_zero_length(void **state)
{
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_zero);
	c = conn_to(&s);
	assert_int_equal(comity_ack(c, ID1HEX), COMITY_EPROTO);
	comity_close(c);
	srv_stop(&s);
}

/* A header for 100 bytes, 10 bytes, then close. */
static void
h_midclose(int fd, struct srv *s)
{
	uint8_t	buf[14] = { 0, 0, 0, 100 };

	if (srv_read(fd, s) != NULL)
		(void)write_full(fd, buf, sizeof(buf));
}

static void
test_close_mid_response(void **state)
{
	struct srv		 s;
	comity_conn		*c;
	struct comity_request	*rq = NULL;

	(void)state;
	srv_start(&s, h_midclose);
	c = conn_to(&s);
	assert_int_equal(comity_fetch(c, ID1HEX, &rq), COMITY_EIO);
	assert_null(rq);
	assert_non_null(strstr(comity_errmsg(c), "mid-response"));
	comity_close(c);
	srv_stop(&s);
}

/* The daemon goes away without answering. */
static void
h_close(int fd, struct srv *s)
{
	(void)srv_read(fd, s);
}

static void
test_close_before_response(void **state)
{
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_close);
	c = conn_to(&s);
	assert_int_equal(comity_ack(c, ID1HEX), COMITY_EIO);
	comity_close(c);
	srv_stop(&s);
}

/* Bytes that are not a LocalResponse. */
static void
h_garbage(int fd, struct srv *s)
{
	uint8_t	buf[4 + 6] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff };

	if (srv_read(fd, s) != NULL)
		(void)write_full(fd, buf, sizeof(buf));
}

static void
test_garbage_response(void **state)
{
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_garbage);
	c = conn_to(&s);
	assert_int_equal(comity_cancel(c, ID1HEX), COMITY_EPROTO);
	comity_close(c);
	srv_stop(&s);
}

/* A daemon that accepts and says nothing: the timeout must fire. */
static void
h_silent(int fd, struct srv *s)
{
	uint8_t	b;

	if (srv_read(fd, s) != NULL)
		(void)read(fd, &b, 1);
}

static void
test_timeout(void **state)
{
	struct srv	 s;
	comity_conn	*c;

	(void)state;
	srv_start(&s, h_silent);
	c = conn_to(&s);
	assert_int_equal(comity_set_timeout(c, 300), 0);
	assert_int_equal(comity_ack(c, ID1HEX), COMITY_ETIMEDOUT);
	comity_close(c);
	srv_stop(&s);
}

static void
test_connect_missing(void **state)
{
	comity_conn	*c = (comity_conn *)&c;
	char		 longp[200];

	(void)state;
	assert_int_equal(comity_connect("/nonexistent/dir/comity.sock", &c),
	    COMITY_ECONNECT);
	assert_null(c);
	assert_int_equal(errno, ENOENT);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(comity_connect(longp, &c), COMITY_EINVAL);
	setenv("COMITY_SOCKET", "/nonexistent/env.sock", 1);
	assert_int_equal(comity_connect(NULL, &c), COMITY_ECONNECT);
	unsetenv("COMITY_SOCKET");
	assert_int_equal(comity_connect(NULL, NULL), COMITY_EINVAL);
	comity_close(NULL);
}

/* ------------------------------------------------------------ watch */

/* What the fake daemon does after a WatchReq (h_watch). */
enum watch_script {
	WS_DROP,		/* SUBSCRIBED, ARRIVED, DROPPED, close */
	WS_CLOSE,		/* SUBSCRIBED, close */
	WS_NOT_FIRST,		/* ARRIVED before SUBSCRIBED */
	WS_BAD_ITEM,		/* SUBSCRIBED, an item with a 3-byte id */
	WS_NO_EVENT,		/* SUBSCRIBED, a response without an event */
	WS_REFUSED,		/* an error answer: no watch */
};
static enum watch_script	watch_script;

static void
send_event(int fd, int kind, Comity__ItemInfo *it, const char *detail)
{
	Comity__LocalResponse	resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__WatchEvent	ev = COMITY__WATCH_EVENT__INIT;

	ev.kind = kind;
	ev.item = it;
	ev.at_ns = 5000;
	ev.detail = (char *)detail;
	ev.procedure = (char *)"";
	resp.event = &ev;
	srv_send(fd, &resp);
}

static void
h_watch(int fd, struct srv *s)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__Times		 t;
	Comity__ItemInfo	*it = make_item(9, &t);
	uint8_t			 b;

	if (srv_read(fd, s) == NULL)
		goto out;
	switch (watch_script) {
	case WS_DROP:
		send_event(fd, COMITY__WATCH_KIND__WATCH_SUBSCRIBED, NULL,
		    "watching");
		send_event(fd, COMITY__WATCH_KIND__WATCH_ARRIVED, it, "");
		send_event(fd, COMITY__WATCH_KIND__WATCH_DROPPED, NULL,
		    "dropped: reading too slowly,\x01 7 events pending");
		break;
	case WS_CLOSE:
		send_event(fd, COMITY__WATCH_KIND__WATCH_SUBSCRIBED, NULL, "");
		break;
	case WS_NOT_FIRST:
		send_event(fd, COMITY__WATCH_KIND__WATCH_ARRIVED, it, "");
		break;
	case WS_BAD_ITEM:
		send_event(fd, COMITY__WATCH_KIND__WATCH_SUBSCRIBED, NULL, "");
		it->id.len = 3;
		send_event(fd, COMITY__WATCH_KIND__WATCH_STATE, it, "");
		break;
	case WS_NO_EVENT:
		send_event(fd, COMITY__WATCH_KIND__WATCH_SUBSCRIBED, NULL, "");
		resp.message = (char *)"ok";
		srv_send(fd, &resp);
		break;
	case WS_REFUSED:
		resp.error = COMITY_EAGAIN;
		resp.message = (char *)"too many watchers already";
		srv_send(fd, &resp);
		/* the client must not send anything more */
		(void)read(fd, &b, 1);
		break;
	}
out:
	free(it);
}

struct watch_seen {
	int	n;
	int	kinds[8];
	int	has_item[8];
	char	from[8][16];
	int	bad;
};

static int
watch_cb(const struct comity_event *ev, void *arg)
{
	struct watch_seen	*ws = arg;

	if (ws->n < 8) {
		ws->kinds[ws->n] = ev->kind;
		ws->has_item[ws->n] = ev->has_item;
		snprintf(ws->from[ws->n], sizeof(ws->from[0]), "%s",
		    ev->item.from);
	}
	if (ev->detail == NULL || ev->procedure == NULL ||
	    ev->item.case_ref == NULL || ev->item.reason == NULL ||
	    ev->at != 5000)
		ws->bad = 1;
	if (ev->has_item && (strcmp(ev->item.id, ID1HEX) != 0 ||
	    ev->item.seq != 9 || strcmp(ev->item.case_ref, "case\xff") != 0))
		ws->bad = 1;
	ws->n++;
	return 0;
}

static int
watch_script_run(enum watch_script script, int urgent,
    struct watch_seen *ws, char *msg, size_t msglen)
{
	struct comity_item	*it = NULL;
	struct srv		 s;
	comity_conn		*c;
	int			 rc;

	watch_script = script;
	memset(ws, 0, sizeof(*ws));
	srv_start(&s, h_watch);
	c = conn_to(&s);
	rc = comity_watch(c, urgent, watch_cb, ws);
	snprintf(msg, msglen, "%s", comity_errmsg(c));
	/* the connection carried a watch: nothing more on it */
	assert_int_equal(comity_status(c, ID1HEX, &it), COMITY_EINVAL);
	assert_int_equal(comity_watch(c, urgent, watch_cb, ws),
	    COMITY_EINVAL);
	comity_close(c);
	srv_stop(&s);
	assert_int_equal(s.nreq, 1);
	assert_int_equal(s.req[0]->op_case, COMITY__LOCAL_REQUEST__OP_WATCH);
	assert_int_equal(s.req[0]->watch->urgent_only, urgent);
	assert_false(ws->bad);
	return rc;
}

static void
test_watch_stream(void **state)
{
	struct watch_seen	ws;
	char			msg[256];

	(void)state;
	/* dropped: every event to the callback, then EAGAIN with the reason
	 * on one line */
	assert_int_equal(watch_script_run(WS_DROP, 1, &ws, msg, sizeof(msg)),
	    COMITY_EAGAIN);
	assert_string_equal(msg, "dropped: reading too slowly,? 7 events "
	    "pending");
	assert_int_equal(ws.n, 3);
	assert_int_equal(ws.kinds[0], COMITY_EVENT_SUBSCRIBED);
	assert_false(ws.has_item[0]);
	assert_string_equal(ws.from[0], "");
	assert_int_equal(ws.kinds[1], COMITY_EVENT_ARRIVED);
	assert_true(ws.has_item[1]);
	assert_string_equal(ws.from[1], "BE-FPSJ");
	assert_int_equal(ws.kinds[2], COMITY_EVENT_DROPPED);
	assert_false(ws.has_item[2]);

	/* the daemon went away */
	assert_int_equal(watch_script_run(WS_CLOSE, 0, &ws, msg, sizeof(msg)),
	    COMITY_EIO);
	assert_non_null(strstr(msg, "closed the connection"));
	assert_int_equal(ws.n, 1);

	/* a broken stream */
	assert_int_equal(watch_script_run(WS_NOT_FIRST, 0, &ws, msg,
	    sizeof(msg)), COMITY_EPROTO);
	assert_int_equal(ws.n, 0);
	assert_int_equal(watch_script_run(WS_BAD_ITEM, 0, &ws, msg,
	    sizeof(msg)), COMITY_EPROTO);
	assert_int_equal(ws.n, 1);
	assert_int_equal(watch_script_run(WS_NO_EVENT, 0, &ws, msg,
	    sizeof(msg)), COMITY_EPROTO);
	assert_int_equal(ws.n, 1);

	/* refused by the daemon */
	assert_int_equal(watch_script_run(WS_REFUSED, 0, &ws, msg,
	    sizeof(msg)), COMITY_EAGAIN);
	assert_string_equal(msg, "too many watchers already");
	assert_int_equal(ws.n, 0);
}

/* Allocation failure while events are read: ENOMEM, nothing leaks. */
static void
test_watch_nomem(void **state)
{
	struct watch_seen	 ws;
	struct srv		 s;
	comity_conn		*c;
	long			 k;
	int			 rc;

	(void)state;
	for (k = 1; k <= 3; k++) {
		watch_script = WS_DROP;
		memset(&ws, 0, sizeof(ws));
		srv_start(&s, h_watch);
		c = conn_to(&s);
		cm_test.fail_after = k;
		rc = comity_watch(c, 0, watch_cb, &ws);
		cm_test.fail_after = 0;
		comity_close(c);
		srv_stop(&s);
		assert_true(rc == COMITY_ENOMEM || rc == COMITY_EAGAIN);
		if (rc == COMITY_EAGAIN)
			assert_int_equal(ws.n, 3);
	}
}

/* ------------------------------------------------------------ names */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(comity_strerror(0), "success");
	assert_string_equal(comity_strerror(COMITY_ESTOREFULL), "store full");
	assert_string_equal(comity_strerror(-999), "unknown error");
	assert_string_equal(comity_strerror(5), "unknown error");
	assert_string_equal(comity_type_name(COMITY_TYPE_MLA), "mla");
	assert_string_equal(comity_type_name(99), "unspecified");
	assert_int_equal(comity_type_from_name("JIT"),
	    COMITY_TYPE_JOINT_INVESTIGATION);
	assert_int_equal(comity_type_from_name("transfer"),
	    COMITY_TYPE_TRANSFER);
	assert_int_equal(comity_type_from_name("bogus"), COMITY_EINVAL);
	assert_string_equal(comity_state_name(COMITY_STATE_QUEUED), "QUEUED");
	assert_string_equal(comity_state_name(COMITY_STATE_RECEIVED),
	    "RECEIVED");
	assert_string_equal(comity_state_name(0), "UNKNOWN");
	assert_int_equal(comity_state_from_name("delivered"),
	    COMITY_STATE_DELIVERED);
	assert_int_equal(comity_state_from_name("nope"), COMITY_EINVAL);
}

/* ------------------------------------------------------------ CLI output */

static void
test_escape(void **state)
{
	char	*e;

	(void)state;
	e = out_escape("ok\xff\xc3(", 0);
	assert_string_equal(e, "ok\\xff\\xc3(");
	free(e);
	/* valid multi-byte sequences pass unchanged */
	e = out_escape("Tribunal de premi\xc3\xa8re instance \xe2\x82\xac "
	    "\xf0\x9f\x98\x80", 0);
	assert_string_equal(e, "Tribunal de premi\xc3\xa8re instance "
	    "\xe2\x82\xac \xf0\x9f\x98\x80");
	free(e);
	/* overlong, surrogate, above U+10FFFF, truncated */
	e = out_escape("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82", 0);
	assert_string_equal(e, "\\xc0\\xaf|\\xed\\xa0\\x80|"
	    "\\xf4\\x90\\x80\\x80|\\xe2\\x82");
	free(e);
	/* controls: kept for JSON (jansson escapes them), shown for text */
	e = out_escape("a\x1b[31mb\x7f", 0);
	assert_string_equal(e, "a\x1b[31mb\x7f");
	free(e);
	e = out_escape("a\x1b[31mb\x7f", 1);
	assert_string_equal(e, "a\\x1b[31mb\\x7f");
	free(e);
}

static void
test_names_on_disk(void **state)
{
	char	long_name[300];

	(void)state;
	assert_null(out_name_problem("request.pdf"));
	assert_null(out_name_problem("r\xc3\xa9sum\xc3\xa9 2026.docx"));
	assert_null(out_name_problem("a..b"));
	assert_non_null(out_name_problem(""));
	assert_non_null(out_name_problem("../etc/passwd"));
	assert_non_null(out_name_problem("dir/file"));
	assert_non_null(out_name_problem(".."));
	assert_non_null(out_name_problem("."));
	assert_non_null(out_name_problem(".bashrc"));
	memset(long_name, 'a', sizeof(long_name));
	long_name[256] = '\0';
	assert_non_null(out_name_problem(long_name));
	long_name[255] = '\0';
	assert_null(out_name_problem(long_name));
}

static void
test_item_json(void **state)
{
	Comity__Times		 t;
	Comity__ItemInfo	*ii = make_item(5, &t);
	struct comity_item	 it;
	json_t			*o, *back;
	json_error_t		 jerr;
	char			*s;

	(void)state;
	memset(&it, 0, sizeof(it));
	snprintf(it.id, sizeof(it.id), "%s", ID1HEX);
	it.box = COMITY_BOX_IN;
	it.state = COMITY_STATE_RECEIVED;
	it.from = "KE-ODPP\xff";
	it.to = "BE-FPSJ";
	it.priority = COMITY_PRIORITY_URGENT;
	it.type = COMITY_TYPE_MLA;
	it.case_ref = "\xc3(case\"1\"";
	it.reason = "";
	it.submitted_at = INT64_C(1795892849123456789);
	it.received_at = INT64_C(1795892850000000000);
	o = out_item_json(&it);
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(s);
	/* jansson accepts it back; nothing was dropped */
	back = json_loads(s, 0, &jerr);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "from")),
	    "KE-ODPP\\xff");
	assert_string_equal(json_string_value(json_object_get(back, "case")),
	    "\\xc3(case\"1\"");
	assert_string_equal(json_string_value(json_object_get(back, "state")),
	    "RECEIVED");
	assert_string_equal(json_string_value(json_object_get(back,
	    "priority")), "urgent");
	assert_string_equal(json_string_value(json_object_get(back, "type")),
	    "mla");
	assert_string_equal(json_string_value(json_object_get(back,
	    "submitted_at")), "2026-11-28T19:07:29.123Z");
	assert_true(json_is_null(json_object_get(back, "delivered_at")));
	assert_true(json_is_null(json_object_get(back, "retrieved_at")));
	assert_non_null(json_object_get(back, "sent_at"));
	assert_non_null(json_object_get(back, "received_at"));
	json_decref(back);
	free(s);
	free(ii);
}

static void
test_times(void **state)
{
	char	buf[OUT_TIME_LEN];
	int64_t	ns, d;

	(void)state;
	out_time(INT64_C(1795892849123456789), buf);
	assert_string_equal(buf, "2026-11-28T19:07:29.123Z");
	out_time(0, buf);
	assert_string_equal(buf, "-");
	{
		char	nsbuf[OUT_TIME_NS_LEN];

		out_time_ns(INT64_C(1795892849000000042), nsbuf);
		assert_string_equal(nsbuf, "2026-11-28T19:07:29.000000042Z");
		out_time_ns(-1, nsbuf);		/* before the epoch */
		assert_string_equal(nsbuf, "1969-12-31T23:59:59.999999999Z");
	}
	assert_int_equal(out_parse_time("2026-11-28T19:07:29.123Z", 0, &ns), 0);
	assert_int_equal(ns, INT64_C(1795892849123000000));
	assert_int_equal(out_parse_time("2026-11-28T21:07:29+02:00", 0, &ns),
	    0);
	assert_int_equal(ns, INT64_C(1795892849000000000));
	assert_int_equal(out_parse_time("2026-11-28", 0, &ns), 0);
	assert_int_equal(ns, INT64_C(1795824000000000000));
	assert_int_equal(out_parse_time("2h", INT64_C(10000000000000), &ns), 0);
	assert_int_equal(ns, INT64_C(10000000000000) - INT64_C(7200000000000));
	assert_int_equal(out_parse_time("2026-13-01", 0, &ns), -1);
	assert_int_equal(out_parse_time("2026-11-28T19:07:29", 0, &ns), -1);
	assert_int_equal(out_parse_time("yesterday", 0, &ns), -1);
	assert_int_equal(out_parse_duration("1h30m", &d), 0);
	assert_int_equal(d, INT64_C(5400000000000));
	assert_int_equal(out_parse_duration("90", &d), 0);
	assert_int_equal(d, INT64_C(90000000000));
	assert_int_equal(out_parse_duration("250ms", &d), 0);
	assert_int_equal(d, INT64_C(250000000));
	assert_int_equal(out_parse_duration("5x", &d), -1);
	assert_int_equal(out_parse_duration("", &d), -1);
	assert_int_equal(out_parse_duration("-5m", &d), -1);
	assert_int_equal(out_parse_duration("99999999999999999999d", &d), -1);
	out_age(INT64_C(252000000000), buf, sizeof(buf));
	assert_string_equal(buf, "4m12s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit),
		cmocka_unit_test(test_submit_invalid),
		cmocka_unit_test(test_submit_batch),
		cmocka_unit_test(test_submit_batch_hostile),
		cmocka_unit_test(test_status_and_error),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_list_stop),
		cmocka_unit_test(test_list_stuck),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_misc_ops),
		cmocka_unit_test(test_oversize_response),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_close_mid_response),
		cmocka_unit_test(test_close_before_response),
		cmocka_unit_test(test_garbage_response),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connect_missing),
		cmocka_unit_test(test_watch_stream),
		cmocka_unit_test(test_watch_nomem),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_names_on_disk),
		cmocka_unit_test(test_item_json),
		cmocka_unit_test(test_times),
	};

	int	rc = cmocka_run_group_tests_name("client", tests, NULL, NULL);

	kept_free();
	return rc + run_local_tests();
}
