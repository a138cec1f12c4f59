/*
 * local.c - the local API server on the Unix socket (see local.h).
 *
 * Each client sends LocalRequest frames and gets one LocalResponse frame
 * per request, in order.  A client has at most one request in progress:
 * while an asynchronous queue operation (submit, ack, cancel) waits for
 * its commit, we stop reading from that client.  A client that goes away
 * before the commit leaves its operation detached (op->c = NULL); the
 * operation still completes and is freed by its callback.
 *
 * A batch submit is one operation of up to SUBMIT_BATCH_MAX queue
 * submits, each with its own outcome: it is answered once the last of
 * them has completed, with their results in the batch's order.  A bad
 * item fails alone.  Items are submitted together, so that they share
 * commits, except those repeating an idempotency key of an earlier item:
 * they wait, round after round, until that one is done, and so behave as
 * if each item had been submitted after the one before.
 *
 * Bounds: frame length (LOCAL_FRAME_MAX) checked from the header before
 * the payload is pulled up, bounded decoding, unsent output
 * (LOCAL_OUTPUT_MAX) checked before a response is queued, at most
 * LOCAL_MAX_CLIENTS clients, and the idle timeout on reads and writes.
 *
 * Watchers: a WatchReq turns the connection into a one-way stream of
 * events (notify.c publishes them through local_publish()).  A watcher
 * has no read timeout, since it has nothing to say; anything it sends
 * closes it, and so does closing its end (even half).  Its unsent events
 * are bounded by LOCAL_WATCH_OUTPUT_MAX: a watcher that reads too slowly
 * gets a last DROPPED event and is closed once that is flushed, or when
 * its write times out.  Publishing never waits for a watcher, so a
 * stalled one costs the daemon nothing but its bounded buffer.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>

#include "audit.h"
#include "bounds.h"
#include "checkpoint.h"
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
#include "tls.h"
#include "wire.h"
#include "xmalloc.h"

#define LOCAL_BACKLOG		128
#define LOCAL_SOCKET_MODE	0660

struct local_op;
struct local_item;

enum local_watch {
	LOCAL_WATCH_NONE = 0,		/* an ordinary client */
	LOCAL_WATCH_ACTIVE,		/* in the watchers list */
	LOCAL_WATCH_DROPPED,		/* dropped: its last events flush */
};

struct local_client {
	TAILQ_ENTRY(local_client) entry;
	TAILQ_ENTRY(local_client) wentry;	/* in watchers when ACTIVE */
	struct bufferevent	*bev;
	uid_t			 uid;
	struct local_op		*pending;	/* async op waiting for commit */
	int			 closing;	/* 1: close once output is sent;
						   -1: drop now */
	int			 in_process;	/* inside local_process() */
	enum local_watch	 watch;
	int			 urgent_only;	/* watch filter */
	uint64_t		 backlog;	/* events queued since the output
						   was last empty */
};

struct local_op {
	struct local_client	*c;		/* NULL once the client left */
	int			 op;		/* LocalRequest op case */
	uint8_t			 id[ENVELOPE_ID_LEN];
	struct queue_submit_res	 res;
	/* SUBMIT_BATCH */
	struct local_item	*items;		/* n_items, in the batch's
						   order */
	size_t			 n_items;
	size_t			 round;		/* the round running */
	size_t			 rounds;
	size_t			 waiting;	/* items of the round not
						   completed yet */
	uint32_t		 uid;
};

/* One item of a batch submit and its outcome. */
struct local_item {
	struct local_op		*op;		/* the batch */
	size_t			 round;		/* earlier items with its key */
	Comity__SubmitReq	*copy;		/* round > 0: the request until
						   it is submitted */
	int			 rc;		/* 0 or COMITY_E*, once done */
	struct queue_submit_res	 res;
};

static TAILQ_HEAD(, local_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static TAILQ_HEAD(, local_client) watchers = TAILQ_HEAD_INITIALIZER(watchers);
static unsigned			 n_clients;
static unsigned			 n_watchers;	/* ACTIVE ones */
static struct evconnlistener	*listener;
static struct event		*resume_ev;
static char			*sock_path;
static dev_t			 sock_dev;
static ino_t			 sock_ino;

static void	local_process(struct local_client *);

static const char *
op_name(int op)
{
	switch (op) {
	case COMITY__LOCAL_REQUEST__OP_SUBMIT:		return "submit";
	case COMITY__LOCAL_REQUEST__OP_STATUS:		return "status";
	case COMITY__LOCAL_REQUEST__OP_LIST:		return "list";
	case COMITY__LOCAL_REQUEST__OP_FETCH:		return "fetch";
	case COMITY__LOCAL_REQUEST__OP_ACK:		return "ack";
	case COMITY__LOCAL_REQUEST__OP_CANCEL:		return "cancel";
	case COMITY__LOCAL_REQUEST__OP_PEERS:		return "peers";
	case COMITY__LOCAL_REQUEST__OP_DIRECTORY:	return "directory";
	case COMITY__LOCAL_REQUEST__OP_RECEIPT:		return "receipt";
	case COMITY__LOCAL_REQUEST__OP_SEALED:		return "export";
	case COMITY__LOCAL_REQUEST__OP_WATCH:		return "watch";
	case COMITY__LOCAL_REQUEST__OP_AUDIT_EXPORT:	return "audit-export";
	case COMITY__LOCAL_REQUEST__OP_AUDIT_VERIFY:	return "audit-verify";
	case COMITY__LOCAL_REQUEST__OP_AUDIT_CHECKPOINT: return "audit-checkpoint";
	case COMITY__LOCAL_REQUEST__OP_TIMELINE:	return "timeline";
	case COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH:	return "submit-batch";
	default:					return "unknown";
	}
}

/* The one-line reason sent for RC when the operation gave none. */
static const char *
errtext(int rc)
{
	switch (rc) {
	case COMITY_EINVAL:		return "invalid request";
	case COMITY_ENOMEM:		return "out of memory";
	case COMITY_EIO:		return "I/O error";
	case COMITY_ESTOREFULL:		return "store full";
	case COMITY_ENOTFOUND:		return "no such request";
	case COMITY_ECONFLICT:		return "conflict with a stored request";
	case COMITY_ESTATE:		return "not possible in the request's "
					    "current state";
	case COMITY_EPROTO:		return "malformed request";
	case COMITY_ETOOBIG:		return "too large";
	case COMITY_EPERM:		return "not allowed";
	case COMITY_EAGAIN:		return "busy, try again later";
	case COMITY_ECRYPTO:		return "signature, seal or certificate "
					    "failure";
	case COMITY_ECORRUPT:		return "stored data failed its checks";
	case COMITY_EEXPIRED:		return "expired";
	default:			return "internal error";
	}
}

/* ------------------------------------------------------------ clients */

/* C stops receiving events (it may still flush what it has). */
static void
watch_stop(struct local_client *c, enum local_watch to)
{
	if (c->watch == LOCAL_WATCH_ACTIVE) {
		TAILQ_REMOVE(&watchers, c, wentry);
		n_watchers--;
		log_info("local uid=%u stopped watching watchers=%u",
		    (unsigned)c->uid, n_watchers);
	}
	c->watch = to;
}

static void
client_free(struct local_client *c)
{
	if (c->pending != NULL)
		c->pending->c = NULL;	/* the op completes on its own */
	watch_stop(c, LOCAL_WATCH_NONE);
	TAILQ_REMOVE(&clients, c, entry);
	n_clients--;
	bufferevent_free(c->bev);
	free(c);
}

/* Responses may hold a fetched request in clear: wipe them once sent. */
static void
wipe_cb(const void *data, size_t len, void *arg)
{
	(void)arg;
	OPENSSL_cleanse((void *)(uintptr_t)data, len);
	free((void *)(uintptr_t)data);
}

/*
 * Queue RESP to C.  Returns 0, or -1 when the client must be dropped (it
 * does not read its responses): c->closing is then -1 and the caller's
 * way out (local_process) frees it.
 */
static int
respond(struct local_client *c, Comity__LocalResponse *resp)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	Comity__LocalResponse	 err = COMITY__LOCAL_RESPONSE__INIT;
	uint8_t			*buf;
	size_t			 len;

	if (c->closing < 0)
		return -1;
	if (evbuffer_get_length(out) > LOCAL_OUTPUT_MAX) {
		log_warnx("local uid=%u does not read its responses (%zu bytes "
		    "unsent): dropped", (unsigned)c->uid,
		    evbuffer_get_length(out));
		c->closing = -1;
		return -1;
	}
	/* a frame cannot be empty (frame.h), and a bare success would
	 * encode to nothing: success always says so */
	if (resp->error == 0 && (resp->message == NULL ||
	    resp->message[0] == '\0'))
		resp->message = (char *)"ok";
	if (protobuf_c_message_get_packed_size(&resp->base) > LOCAL_FRAME_MAX) {
		log_warnx("local uid=%u response above %u bytes: refused",
		    (unsigned)c->uid, (unsigned)LOCAL_FRAME_MAX);
		err.error = COMITY_ETOOBIG;
		err.message = (char *)"response too large for the local socket";
		resp = &err;
	}
	if ((buf = wire_pack(&resp->base, 1, &len)) == NULL)
		fatalx("local: out of memory packing a response");
	if (evbuffer_add_reference(out, buf, len, wipe_cb, NULL) != 0) {
		wipe_cb(buf, len, NULL);
		log_warnx("local uid=%u: cannot queue a response: dropped",
		    (unsigned)c->uid);
		c->closing = -1;
		return -1;
	}
	return 0;
}

static int
respond_error(struct local_client *c, int rc, const char *msg)
{
	Comity__LocalResponse	resp = COMITY__LOCAL_RESPONSE__INIT;

	resp.error = rc;
	resp.message = (char *)(msg != NULL && msg[0] != '\0' ? msg :
	    errtext(rc));
	return respond(c, &resp);
}

static void
log_op(const struct local_client *c, int op, const uint8_t *id, int rc,
    const char *msg)
{
	char	h[33] = "-";

	if (id != NULL)
		wire_id_hex(id, h);
	if (rc == 0)
		log_debug("local uid=%u op=%s id=%s rc=0", (unsigned)c->uid,
		    op_name(op), h);
	else
		log_warnx("local uid=%u op=%s id=%s rc=%d: %s",
		    (unsigned)c->uid, op_name(op), h, rc,
		    msg != NULL && msg[0] != '\0' ? msg : errtext(rc));
}

/* ------------------------------------------------------------ async ops */

static void	op_checkpoint_done(void *, int, const uint8_t *, size_t,
		    const char *);

static void
op_done_cb(void *arg, int rc)
{
	struct local_op		*op = arg;
	struct local_client	*c = op->c;
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	char			 h[33];

	if (c == NULL) {
		wire_id_hex(op->op == COMITY__LOCAL_REQUEST__OP_SUBMIT ?
		    op->res.id : op->id, h);
		log_info("local op=%s id=%s rc=%d: client left before the "
		    "commit", op_name(op->op), rc == 0 &&
		    op->op == COMITY__LOCAL_REQUEST__OP_SUBMIT ? h : "-", rc);
		free(op);
		return;
	}
	c->pending = NULL;
	if (op->op == COMITY__LOCAL_REQUEST__OP_SUBMIT) {
		log_op(c, op->op, rc == 0 ? op->res.id : NULL, rc, op->res.err);
		if (rc == 0) {
			resp.id.data = op->res.id;
			resp.id.len = ENVELOPE_ID_LEN;
			resp.existed = op->res.existed != 0;
			respond(c, &resp);
		} else
			respond_error(c, rc, op->res.err);
	} else {
		log_op(c, op->op, op->id, rc, NULL);
		resp.id.data = op->id;
		resp.id.len = ENVELOPE_ID_LEN;
		if (rc == 0)
			respond(c, &resp);
		else
			respond_error(c, rc, NULL);
	}
	free(op);
	/* resume this client (it may have frames waiting already), unless
	 * the callback ran within local_process(), which goes on itself */
	if (!c->in_process)
		local_process(c);
}

static struct local_op *
op_new(struct local_client *c, int opc)
{
	struct local_op	*op = xcalloc(1, sizeof(*op));

	op->c = c;
	op->op = opc;
	/* set before the call, in case the callback runs within it */
	c->pending = op;
	return op;
}

/* The op could not start: the callback will not run. */
static void
op_abort(struct local_client *c, struct local_op *op, int rc,
    const char *msg)
{
	c->pending = NULL;
	log_op(c, op->op, op->op == COMITY__LOCAL_REQUEST__OP_SUBMIT ? NULL :
	    op->id, rc, msg);
	respond_error(c, rc, msg);	/* MSG may live in OP */
	free(op);
}

/* A signed checkpoint now: answered once it is committed. */
static void
do_audit_checkpoint(struct local_client *c)
{
	struct local_op	*op = op_new(c, COMITY__LOCAL_REQUEST__OP_AUDIT_CHECKPOINT);

	checkpoint_now(op_checkpoint_done, op);
}

static void
op_checkpoint_done(void *arg, int rc, const uint8_t *der, size_t len,
    const char *err)
{
	struct local_op		*op = arg;
	struct local_client	*c = op->c;
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;

	free(op);
	if (c == NULL)
		return;
	c->pending = NULL;
	log_op(c, COMITY__LOCAL_REQUEST__OP_AUDIT_CHECKPOINT, NULL, rc,
	    rc != 0 ? err : NULL);
	if (rc == 0) {
		resp.checkpoint.data = (uint8_t *)der;
		resp.checkpoint.len = len;
		respond(c, &resp);
	} else
		respond_error(c, rc, err);
	if (!c->in_process)
		local_process(c);
}

static int
id_ok(const Comity__IdReq *ir)
{
	return ir != NULL && ir->id.len == ENVELOPE_ID_LEN;
}

static void
do_submit(struct local_client *c, const Comity__SubmitReq *req)
{
	struct local_op	*op;
	int		 rc;

	if (req == NULL) {
		respond_error(c, COMITY_EINVAL, "empty submit");
		return;
	}
	op = op_new(c, COMITY__LOCAL_REQUEST__OP_SUBMIT);
	rc = queue_submit(req, (uint32_t)c->uid, &op->res, op_done_cb, op);
	if (rc != 0)
		op_abort(c, op, rc, op->res.err);
}

/* ------------------------------------------------------------ batches */

/* libcomity refuses a larger batch itself, with the same reason */
_Static_assert(SUBMIT_BATCH_MAX == COMITY_BATCH_MAX,
    "the batch bound differs from the one libcomity documents");

/* Free batch OP (its client has had its answer or has left). */
static void
batch_free(struct local_op *op)
{
	size_t	i;

	for (i = 0; i < op->n_items; i++)
		wire_free(op->items[i].copy);
	free(op->items);
	free(op);
}

/*
 * Every item of batch OP has completed: log one line for the batch and
 * answer with one result per item, in order.
 */
static void
batch_answer(struct local_op *op)
{
	struct local_client	 *c = op->c;
	Comity__LocalResponse	  resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__SubmitResult	 *res, **ptrs;
	const struct local_item	 *it, *first = NULL;
	size_t			  i, ok = 0, existed = 0;

	for (i = 0; i < op->n_items; i++) {
		it = &op->items[i];
		if (it->rc == 0) {
			ok++;
			existed += it->res.existed != 0;
		} else if (first == NULL)
			first = it;
	}
	if (c == NULL) {
		log_info("local op=%s count=%zu ok=%zu failed=%zu: client left "
		    "before the commit", op_name(op->op), op->n_items, ok,
		    op->n_items - ok);
		batch_free(op);
		return;
	}
	c->pending = NULL;
	if (first == NULL)
		log_debug("local uid=%u op=%s count=%zu ok=%zu failed=0 "
		    "existed=%zu", (unsigned)c->uid, op_name(op->op),
		    op->n_items, ok, existed);
	else
		log_warnx("local uid=%u op=%s count=%zu ok=%zu failed=%zu "
		    "existed=%zu: item %zu rc=%d: %s", (unsigned)c->uid,
		    op_name(op->op), op->n_items, ok, op->n_items - ok, existed,
		    (size_t)(first - op->items) + 1, first->rc,
		    first->res.err[0] != '\0' ? first->res.err :
		    errtext(first->rc));
	res = xcalloc(op->n_items, sizeof(*res));
	ptrs = xcalloc(op->n_items, sizeof(*ptrs));
	for (i = 0; i < op->n_items; i++) {
		it = &op->items[i];
		comity__submit_result__init(&res[i]);
		res[i].error = it->rc;
		if (it->rc == 0) {
			res[i].id.data = (uint8_t *)it->res.id;
			res[i].id.len = ENVELOPE_ID_LEN;
			res[i].existed = it->res.existed != 0;
		} else
			res[i].message = (char *)(it->res.err[0] != '\0' ?
			    it->res.err : errtext(it->rc));
		ptrs[i] = &res[i];
	}
	resp.n_results = op->n_items;
	resp.results = ptrs;
	respond(c, &resp);
	free(ptrs);
	free(res);
	batch_free(op);
	/* as op_done_cb() */
	if (!c->in_process)
		local_process(c);
}

static void	batch_item_cb(void *, int);

/*
 * Submit the items of round op->round: those of REQS (the decoded
 * request, borrowed) in round 0, their copies after.  On return,
 * op->waiting counts those still to complete.
 */
static void
batch_round(struct local_op *op, Comity__SubmitReq *const *reqs)
{
	struct local_item	*it;
	size_t			 i;
	int			 rc;

	/* held, so that an item completing within queue_submit() cannot
	 * end the round before every item has started */
	op->waiting = 1;
	for (i = 0; i < op->n_items; i++) {
		it = &op->items[i];
		if (it->round != op->round)
			continue;
		op->waiting++;
		rc = queue_submit(it->copy != NULL ? it->copy : reqs[i],
		    op->uid, &it->res, batch_item_cb, it);
		if (rc != 0) {
			/* refused at once: no callback */
			it->rc = rc;
			op->waiting--;
		}
		wire_free(it->copy);
		it->copy = NULL;
	}
	op->waiting--;
}

/* The round is over: run the next ones, and answer after the last. */
static void
batch_next(struct local_op *op)
{
	while (op->waiting == 0 && ++op->round < op->rounds)
		batch_round(op, NULL);
	if (op->waiting == 0)
		batch_answer(op);
}

static void
batch_item_cb(void *arg, int rc)
{
	struct local_item	*it = arg;
	struct local_op		*op = it->op;

	it->rc = rc;
	if (--op->waiting == 0)
		batch_next(op);
}

/* A copy of REQ, for a later round. */
static Comity__SubmitReq *
batch_copy(const Comity__SubmitReq *req)
{
	Comity__SubmitReq	*copy;
	uint8_t			*buf;
	size_t			 len;

	if ((buf = wire_pack(&req->base, 0, &len)) == NULL)
		fatalx("local: out of memory copying a batch item");
	copy = wire_unpack(&comity__submit_req__descriptor, buf, len);
	free(buf);
	if (copy == NULL)
		fatalx("local: cannot copy a batch item");
	return copy;
}

/* Each item's round: how many items before it repeat its key. */
static void
batch_rounds(struct local_op *op, Comity__SubmitReq *const *reqs)
{
	const char	*key;
	size_t		 i, j;

	op->rounds = 1;
	for (i = 0; i < op->n_items; i++) {
		key = reqs[i]->idempotency_key;
		if (key == NULL || key[0] == '\0')
			continue;
		for (j = 0; j < i; j++)
			if (reqs[j]->idempotency_key != NULL &&
			    strcmp(reqs[j]->idempotency_key, key) == 0)
				op->items[i].round++;
		if (op->items[i].round > 0) {
			op->items[i].copy = batch_copy(reqs[i]);
			if (op->items[i].round >= op->rounds)
				op->rounds = op->items[i].round + 1;
		}
	}
}

static void
do_submit_batch(struct local_client *c, const Comity__SubmitBatchReq *req)
{
	struct local_op	*op;
	char		 msg[128];
	size_t		 i;

	if (req == NULL || req->n_items == 0) {
		log_op(c, COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH, NULL,
		    COMITY_EINVAL, "empty batch");
		respond_error(c, COMITY_EINVAL, "empty batch: no requests");
		return;
	}
	if (req->n_items > SUBMIT_BATCH_MAX) {
		snprintf(msg, sizeof(msg), "batch of %zu requests: at most %u "
		    "in one batch", req->n_items, (unsigned)SUBMIT_BATCH_MAX);
		log_op(c, COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH, NULL,
		    COMITY_ETOOBIG, msg);
		respond_error(c, COMITY_ETOOBIG, msg);
		return;
	}
	op = op_new(c, COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH);
	op->items = xcalloc(req->n_items, sizeof(*op->items));
	op->n_items = req->n_items;
	op->uid = (uint32_t)c->uid;
	for (i = 0; i < op->n_items; i++)
		op->items[i].op = op;
	batch_rounds(op, req->items);
	batch_round(op, req->items);
	if (op->waiting == 0)
		batch_next(op);
}

static void
do_id_op(struct local_client *c, int opc, const Comity__IdReq *ir)
{
	struct local_op	*op;
	int		 rc;

	if (!id_ok(ir)) {
		respond_error(c, COMITY_EINVAL, "invalid request id");
		return;
	}
	op = op_new(c, opc);
	memcpy(op->id, ir->id.data, ENVELOPE_ID_LEN);
	if (opc == COMITY__LOCAL_REQUEST__OP_ACK)
		rc = queue_ack(op->id, (uint32_t)c->uid, op_done_cb, op);
	else
		rc = queue_cancel(op->id, (uint32_t)c->uid, op_done_cb, op);
	if (rc != 0)
		op_abort(c, op, rc, opc == COMITY__LOCAL_REQUEST__OP_ACK &&
		    rc == COMITY_ENOTFOUND ? "no such inbox request" :
		    rc == COMITY_ENOTFOUND ? "no such outbox request" :
		    rc == COMITY_ESTATE ? "too late: the request is in flight, "
		    "delivered or final" : NULL);
}

/* ------------------------------------------------------------ sync ops */

static void
do_status(struct local_client *c, const Comity__IdReq *ir)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__ItemInfo	*info = NULL;
	int			 rc;

	if (!id_ok(ir)) {
		respond_error(c, COMITY_EINVAL, "invalid request id");
		return;
	}
	rc = queue_status(ir->id.data, &info);
	log_op(c, COMITY__LOCAL_REQUEST__OP_STATUS, ir->id.data, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, NULL);
		return;
	}
	resp.n_items = 1;
	resp.items = &info;
	respond(c, &resp);
	queue_info_free(info);
}

static void
do_list(struct local_client *c, const Comity__ListReq *req)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__ItemInfo	**items = NULL;
	size_t			 n = 0, i;
	uint64_t		 next = 0;
	int			 rc, more = 0;

	if (req == NULL || (req->box != COMITY__BOX__BOX_OUT &&
	    req->box != COMITY__BOX__BOX_IN) ||
	    (int)req->state < COMITY__STATE__STATE_UNSPECIFIED ||
	    req->state > COMITY__STATE__STATE_RECEIVED ||
	    req->limit > LIST_PAGE_MAX) {
		respond_error(c, COMITY_EINVAL, "invalid list request");
		return;
	}
	rc = queue_list(req, &items, &n, &more, &next);
	log_op(c, COMITY__LOCAL_REQUEST__OP_LIST, NULL, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, NULL);
		return;
	}
	resp.n_items = n;
	resp.items = items;
	resp.more = more != 0;
	resp.next_seq = next;
	respond(c, &resp);
	for (i = 0; i < n; i++)
		queue_info_free(items[i]);
	free(items);
}

static void
do_fetch(struct local_client *c, const Comity__IdReq *ir)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__Request		*rq = NULL;
	int			 rc;

	if (!id_ok(ir)) {
		respond_error(c, COMITY_EINVAL, "invalid request id");
		return;
	}
	rc = queue_fetch(ir->id.data, &rq);
	log_op(c, COMITY__LOCAL_REQUEST__OP_FETCH, ir->id.data, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, rc == COMITY_EPERM ? "a sent request is "
		    "sealed to its recipient; only the recipient can open it "
		    "(`comity export` gives the sealed copy)" :
		    rc == COMITY_ECRYPTO ? "the stored request does not open "
		    "with our key (after a certificate rotation, set "
		    "retired_key; the daemon's log has the details)" : NULL);
		return;
	}
	resp.request = rq;
	respond(c, &resp);
	wire_free(rq);
}

static void
do_receipt(struct local_client *c, const Comity__ReceiptReq *rr)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	int			 rc;

	if (rr == NULL || rr->id.len != ENVELOPE_ID_LEN ||
	    (rr->kind != COMITY__RECEIPT_KIND__RECEIPT_DELIVERED &&
	    rr->kind != COMITY__RECEIPT_KIND__RECEIPT_REJECTED &&
	    rr->kind != COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED)) {
		respond_error(c, COMITY_EINVAL, "invalid receipt request");
		return;
	}
	rc = queue_receipt(rr->id.data, rr->kind, &buf, &len);
	log_op(c, COMITY__LOCAL_REQUEST__OP_RECEIPT, rr->id.data, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, rc == COMITY_ENOTFOUND ? "no such request "
		    "or no such receipt (yet)" : NULL);
		return;
	}
	resp.receipt.data = buf;
	resp.receipt.len = len;
	respond(c, &resp);
	free(buf);
}

static void
do_sealed(struct local_client *c, const Comity__IdReq *ir)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	int			 rc;

	if (!id_ok(ir)) {
		respond_error(c, COMITY_EINVAL, "invalid request id");
		return;
	}
	rc = queue_sealed(ir->id.data, &buf, &len);
	log_op(c, COMITY__LOCAL_REQUEST__OP_SEALED, ir->id.data, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, NULL);
		return;
	}
	resp.sealed.data = buf;
	resp.sealed.len = len;
	respond(c, &resp);
	free(buf);
}

static void
do_timeline(struct local_client *c, const Comity__IdReq *ir)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__ItemInfo	*info = NULL;
	Comity__TimelineInfo	*tl = NULL;
	int			 rc;

	if (!id_ok(ir)) {
		respond_error(c, COMITY_EINVAL, "invalid request id");
		return;
	}
	rc = queue_timeline(ir->id.data, &info, &tl);
	log_op(c, COMITY__LOCAL_REQUEST__OP_TIMELINE, ir->id.data, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, NULL);
		return;
	}
	resp.n_items = 1;
	resp.items = &info;
	resp.timeline = tl;
	respond(c, &resp);
	queue_info_free(info);
	free(tl);
}

/*
 * One page of the audit trail: bounded in records, bytes and records
 * looked at (audit.h), so a page costs the loop a few ms at most and the
 * client asks for the next one after next_seq.
 */
static void
do_audit_export(struct local_client *c, const Comity__AuditExportReq *req)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	struct audit_filter	 f;
	struct audit_page	 pg;
	int			 rc;

	if (req == NULL || (req->id.len != 0 &&
	    req->id.len != ENVELOPE_ID_LEN) || req->since_ns < 0 ||
	    req->until_ns < 0 || req->limit > AUDIT_PAGE_MAX) {
		respond_error(c, COMITY_EINVAL, "invalid audit export request");
		return;
	}
	memset(&f, 0, sizeof(f));
	f.since_ns = req->since_ns;
	f.until_ns = req->until_ns;
	f.id = req->id.len == ENVELOPE_ID_LEN ? req->id.data : NULL;
	rc = audit_export_page(cd->store, &f, req->after_seq, req->limit, &pg);
	log_op(c, COMITY__LOCAL_REQUEST__OP_AUDIT_EXPORT, f.id, rc, NULL);
	if (rc != 0) {
		audit_page_free(&pg);
		respond_error(c, rc, NULL);
		return;
	}
	resp.n_audit = pg.n;
	resp.audit = pg.recs;
	resp.more = pg.more != 0;
	resp.next_seq = pg.next;
	respond(c, &resp);
	audit_page_free(&pg);
}

/*
 * The whole chain in one read txn and one go: about a microsecond per
 * record of the loop's time (audit.h); auditors with 10^7 records use
 * the offline verifier, which takes none.
 */
static void
do_audit_verify(struct local_client *c, const Comity__AuditVerifyReq *req)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__AuditVerifyInfo	 vi = COMITY__AUDIT_VERIFY_INFO__INIT;
	struct audit_witness	 w, *wp = NULL;
	struct audit_result	 res;
	uint64_t		 t0 = mono_ms();
	int			 rc;

	if (req == NULL || (req->witness_hash.len != 0 &&
	    req->witness_hash.len != AUDIT_HASH_LEN)) {
		respond_error(c, COMITY_EINVAL, "invalid audit verify request");
		return;
	}
	if (req->witness_hash.len == AUDIT_HASH_LEN) {
		w.seq = req->witness_seq;
		memcpy(w.hash, req->witness_hash.data, AUDIT_HASH_LEN);
		wp = &w;
	}
	audit_set_trust(cd->tls != NULL ? cd->tls->seal.trust : NULL);
	rc = audit_verify_store(cd->store, wp, &res);
	audit_set_trust(NULL);
	if (rc != 0 && rc != COMITY_ECORRUPT) {
		log_op(c, COMITY__LOCAL_REQUEST__OP_AUDIT_VERIFY, NULL, rc,
		    NULL);
		respond_error(c, rc, NULL);
		return;
	}
	if (rc == 0)
		log_info("audit chain intact: %llu records in %llu ms uid=%u",
		    (unsigned long long)res.count,
		    (unsigned long long)(mono_ms() - t0), (unsigned)c->uid);
	else
		log_warnx("audit chain broken at seq %llu: %s uid=%u",
		    (unsigned long long)res.bad_seq, res.reason,
		    (unsigned)c->uid);
	vi.ok = res.ok != 0;
	vi.count = res.count;
	vi.bad_seq = res.bad_seq;
	vi.reason = res.reason;
	vi.head_seq = res.head_seq;
	if (res.head_seq != 0 || res.ok) {
		vi.head_hash.data = res.head_hash;
		vi.head_hash.len = AUDIT_HASH_LEN;
	}
	vi.witnessed = res.witnessed != 0;
	vi.time_regressions = res.regressions;
	vi.checkpoints = res.checkpoints;
	vi.last_checkpoint_seq = res.last_checkpoint;
	vi.first_regression_seq = res.first_regression;
	resp.verify = &vi;
	respond(c, &resp);
}

static void
do_peers(struct local_client *c)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__PeerInfo	**arr = NULL;
	size_t			 n = 0;
	int			 rc;

	rc = peer_info(&arr, &n);
	log_op(c, COMITY__LOCAL_REQUEST__OP_PEERS, NULL, rc, NULL);
	if (rc != 0) {
		respond_error(c, rc, NULL);
		return;
	}
	resp.n_peers = n;
	resp.peers = arr;
	respond(c, &resp);
	peer_info_free(arr, n);
}

/* Split "en, sw" into ARR (pointers into the copy BUF). */
static size_t
split_list(char *buf, char **arr, size_t max)
{
	char	*tok, *save = NULL;
	size_t	 n = 0;

	for (tok = strtok_r(buf, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save)) {
		size_t	len;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		len = strlen(tok);
		while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = '\0';
		if (len > 0)
			arr[n++] = tok;
	}
	return n;
}

#define DIR_LANGS_MAX	64

/* What the directory response borrows or owns for one entry. */
struct dir_out {
	Comity__DirEntry	 de;
	char			*accepts[DIR_TYPES_MAX];
	char			*langs[DIR_LANGS_MAX];
	char			*langbuf;	/* owned */
	char			 pin[2 * 32 + 1];
};

static void
dir_entry_out(const struct dir_entry *e, struct dir_out *o)
{
	Comity__DirEntry	*de = &o->de;
	int			 t;

	comity__dir_entry__init(de);
	de->id = e->id;
	de->name = e->name != NULL ? e->name : (char *)"";
	de->endpoint = e->endpoint != NULL ? e->endpoint : (char *)"";
	de->timezone = e->timezone != NULL ? e->timezone : (char *)"";
	de->hours = e->hours != NULL ? e->hours : (char *)"";
	de->urgent = e->urgent != NULL ? e->urgent : (char *)"";
	for (t = 1; t <= COMITY__REQUEST_TYPE__TYPE_OTHER &&
	    de->n_accepts < DIR_TYPES_MAX; t++)
		if (e->accepts & (1u << t))
			o->accepts[de->n_accepts++] = (char *)type_name(t);
	de->accepts = o->accepts;
	if (e->languages != NULL) {
		o->langbuf = xstrdup(e->languages);
		de->n_languages = split_list(o->langbuf, o->langs,
		    DIR_LANGS_MAX);
	}
	de->languages = o->langs;
	if (e->has_pin) {
		wire_hex(e->pin, 32, o->pin);
		de->pin = o->pin;
	} else
		de->pin = (char *)"";
	de->self = cd->self != NULL && strcmp(e->id, cd->self) == 0;
}

static void
do_directory(struct local_client *c)
{
	Comity__LocalResponse	  resp = COMITY__LOCAL_RESPONSE__INIT;
	struct dir_out		 *outs;
	Comity__DirEntry	**ptrs;
	size_t			  i, n = cd->dir != NULL ? cd->dir->n : 0;

	outs = xcalloc(n + 1, sizeof(*outs));
	ptrs = xcalloc(n + 1, sizeof(*ptrs));
	for (i = 0; i < n; i++) {
		dir_entry_out(&cd->dir->entries[i], &outs[i]);
		ptrs[i] = &outs[i].de;
	}
	log_op(c, COMITY__LOCAL_REQUEST__OP_DIRECTORY, NULL, 0, NULL);
	resp.n_directory = n;
	resp.directory = ptrs;
	respond(c, &resp);
	for (i = 0; i < n; i++)
		free(outs[i].langbuf);
	free(outs);
	free(ptrs);
}

/* ------------------------------------------------------------ watchers */

/* Drop C at once: freed here, or by local_process() when inside it. */
static void
client_drop(struct local_client *c)
{
	watch_stop(c, LOCAL_WATCH_DROPPED);
	if (c->in_process)
		c->closing = -1;
	else
		client_free(c);
}

/*
 * C reads too slowly: no more events; a last DROPPED one says why, after
 * what is queued already (we never cut a frame), and the connection
 * closes once that is flushed or its write times out.  The DROPPED frame
 * is the only thing ever added past LOCAL_WATCH_OUTPUT_MAX.
 */
static void
watch_drop(struct local_client *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		*frame;
	size_t		 len;
	char		 detail[128];

	log_warnx("local uid=%u watcher reads too slowly (%llu events, %zu "
	    "bytes unsent): dropped", (unsigned)c->uid,
	    (unsigned long long)c->backlog, evbuffer_get_length(out));
	snprintf(detail, sizeof(detail), "dropped: reading too slowly, %llu "
	    "events pending", (unsigned long long)c->backlog);
	watch_stop(c, LOCAL_WATCH_DROPPED);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	frame = notify_frame(COMITY__WATCH_KIND__WATCH_DROPPED, NULL, detail,
	    NULL, &len);
	if (frame != NULL && evbuffer_add(out, frame, len) != 0)
		log_warnx("local uid=%u: cannot queue the DROPPED event",
		    (unsigned)c->uid);
	free(frame);
}

/* Queue one event frame to watcher C, within its bound. */
static void
watch_send(struct local_client *c, const uint8_t *frame, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (c->closing || c->watch != LOCAL_WATCH_ACTIVE)
		return;
	if (evbuffer_get_length(out) > LOCAL_WATCH_OUTPUT_MAX ||
	    len > LOCAL_WATCH_OUTPUT_MAX - evbuffer_get_length(out)) {
		watch_drop(c);
		return;
	}
	if (evbuffer_add(out, frame, len) != 0) {
		log_warnx("local uid=%u: cannot queue a watch event: dropped",
		    (unsigned)c->uid);
		client_drop(c);
		return;
	}
	c->backlog++;
}

static void
do_watch(struct local_client *c, const Comity__WatchReq *req)
{
	struct timeval	 tv;
	uint64_t	 ms = cd->conf->idle_timeout_ms;
	uint8_t		*frame;
	size_t		 len;

	if (req == NULL) {
		respond_error(c, COMITY_EINVAL, "empty watch request");
		return;
	}
	if (n_watchers >= LOCAL_MAX_WATCHERS) {
		log_op(c, COMITY__LOCAL_REQUEST__OP_WATCH, NULL, COMITY_EAGAIN,
		    "too many watchers");
		respond_error(c, COMITY_EAGAIN, "too many watchers already: "
		    "try again later");
		return;
	}
	c->watch = LOCAL_WATCH_ACTIVE;
	c->urgent_only = req->urgent_only != 0;
	TAILQ_INSERT_TAIL(&watchers, c, wentry);
	n_watchers++;
	/* nothing more to read from a watcher: only its writes time out */
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	log_info("local uid=%u watching%s watchers=%u", (unsigned)c->uid,
	    c->urgent_only ? " urgent" : "", n_watchers);
	frame = notify_frame(COMITY__WATCH_KIND__WATCH_SUBSCRIBED, NULL,
	    c->urgent_only ? "watching events about urgent requests" :
	    "watching all events", NULL, &len);
	if (frame == NULL)
		fatalx("local: cannot encode a SUBSCRIBED event");
	watch_send(c, frame, len);
	free(frame);
}

int
local_watching(void)
{
	return n_watchers > 0;
}

void
local_publish(const uint8_t *frame, size_t len, int urgent)
{
	struct local_client	*c, *next;

	/* watch_send() may take C out of the list, never another one */
	for (c = TAILQ_FIRST(&watchers); c != NULL; c = next) {
		next = TAILQ_NEXT(c, wentry);
		if (c->urgent_only && !urgent)
			continue;
		watch_send(c, frame, len);
	}
}

/* ------------------------------------------------------------ dispatch */

static void
dispatch(struct local_client *c, const Comity__LocalRequest *req)
{
	switch (req->op_case) {
	case COMITY__LOCAL_REQUEST__OP_SUBMIT:
		do_submit(c, req->submit);
		break;
	case COMITY__LOCAL_REQUEST__OP_STATUS:
		do_status(c, req->status);
		break;
	case COMITY__LOCAL_REQUEST__OP_LIST:
		do_list(c, req->list);
		break;
	case COMITY__LOCAL_REQUEST__OP_FETCH:
		do_fetch(c, req->fetch);
		break;
	case COMITY__LOCAL_REQUEST__OP_ACK:
		do_id_op(c, req->op_case, req->ack);
		break;
	case COMITY__LOCAL_REQUEST__OP_CANCEL:
		do_id_op(c, req->op_case, req->cancel);
		break;
	case COMITY__LOCAL_REQUEST__OP_PEERS:
		do_peers(c);
		break;
	case COMITY__LOCAL_REQUEST__OP_DIRECTORY:
		do_directory(c);
		break;
	case COMITY__LOCAL_REQUEST__OP_RECEIPT:
		do_receipt(c, req->receipt);
		break;
	case COMITY__LOCAL_REQUEST__OP_SEALED:
		do_sealed(c, req->sealed);
		break;
	case COMITY__LOCAL_REQUEST__OP_WATCH:
		do_watch(c, req->watch);
		break;
	case COMITY__LOCAL_REQUEST__OP_AUDIT_EXPORT:
		do_audit_export(c, req->audit_export);
		break;
	case COMITY__LOCAL_REQUEST__OP_AUDIT_VERIFY:
		do_audit_verify(c, req->audit_verify);
		break;
	case COMITY__LOCAL_REQUEST__OP_TIMELINE:
		do_timeline(c, req->timeline);
		break;
	case COMITY__LOCAL_REQUEST__OP_AUDIT_CHECKPOINT:
		do_audit_checkpoint(c);
		break;
	case COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH:
		do_submit_batch(c, req->submit_batch);
		break;
	default:
		log_op(c, 0, NULL, COMITY_EINVAL, "unknown operation");
		respond_error(c, COMITY_EINVAL, "unknown operation");
		break;
	}
}

/* ------------------------------------------------------------ reading */

/* Bad input from a local client: log it and leave an audit record. */
static void
local_refuse(struct local_client *c, const char *what)
{
	char	detail[128];

	log_warnx("local uid=%u: %s", (unsigned)c->uid, what);
	snprintf(detail, sizeof(detail), "local uid=%u: %s", (unsigned)c->uid,
	    what);
	queue_audit(AUDIT_LOCAL_ERROR, NULL, NULL, detail);
}

/*
 * Handle every complete frame in C's input, one request at a time: stop
 * at an async op, resume from its callback.  May free C.
 */
static void
local_process(struct local_client *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	Comity__LocalRequest	*req;
	uint8_t			 hdr[FRAME_HEADER_LEN], *p;
	uint32_t		 len;
	size_t			 avail;
	int			 r;

	c->in_process = 1;
	while (c->pending == NULL && !c->closing) {
		avail = evbuffer_get_length(in);
		if (c->watch != LOCAL_WATCH_NONE) {
			/* a watcher has nothing more to ask */
			if (avail > 0) {
				local_refuse(c, "data from a watcher: closed");
				client_drop(c);
			}
			break;
		}
		if (avail < FRAME_HEADER_LEN)
			break;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if ((r = frame_scan(hdr, avail, LOCAL_FRAME_MAX, &len)) == -1) {
			local_refuse(c, "invalid frame length: closed");
			client_free(c);
			return;
		}
		if (r == 0)
			break;
		evbuffer_drain(in, FRAME_HEADER_LEN);
		if ((p = evbuffer_pullup(in, len)) == NULL)
			fatalx("local: out of memory reading a request");
		req = wire_unpack(&comity__local_request__descriptor, p, len);
		evbuffer_drain(in, len);
		if (req == NULL) {
			local_refuse(c, "malformed request: closed");
			respond_error(c, COMITY_EPROTO, "malformed request");
			if (c->closing == 0)
				c->closing = 1;
			break;
		}
		dispatch(c, req);
		wire_free(req);
	}
	c->in_process = 0;
	if (c->closing < 0) {
		client_free(c);
		return;
	}
	if (c->closing) {
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			client_free(c);
		return;
	}
	if (c->pending != NULL)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	local_process(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct local_client	*c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		c->backlog = 0;		/* a watcher caught up */
	/* the output drained: a closing client has had its last answer */
	if (c->closing && c->pending == NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_free(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct local_client	*c = arg;

	if ((what & BEV_EVENT_TIMEOUT) && c->watch != LOCAL_WATCH_NONE)
		log_warnx("local uid=%u watcher read nothing for %llu ms: "
		    "closed", (unsigned)c->uid,
		    (unsigned long long)cd->conf->idle_timeout_ms);
	else if (what & BEV_EVENT_TIMEOUT)
		log_info("local uid=%u idle for %llu ms: closed",
		    (unsigned)c->uid,
		    (unsigned long long)cd->conf->idle_timeout_ms);
	else if ((what & BEV_EVENT_EOF) && c->watch == LOCAL_WATCH_NONE &&
	    (c->pending != NULL ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
		/* half-closed: it may still read what it asked for */
		c->closing = 1;
		bufferevent_disable(bev, EV_READ);
		return;
	} else if (what & BEV_EVENT_ERROR)
		log_debug("local uid=%u: %s", (unsigned)c->uid,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	client_free(c);
}

static void
accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct local_client	*c;
	struct ucred		 cred;
	socklen_t		 credlen = sizeof(cred);
	struct timeval		 tv;
	uint64_t		 ms = cd->conf->idle_timeout_ms;

	(void)lst;
	(void)sa;
	(void)salen;
	(void)arg;
	if (n_clients >= LOCAL_MAX_CLIENTS) {
		log_warnx("local: %u clients already: connection refused",
		    n_clients);
		evutil_closesocket(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == -1 ||
	    credlen != sizeof(cred)) {
		log_warn("local: SO_PEERCRED");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->uid = cred.uid;
	c->bev = bufferevent_socket_new(cd->base, fd, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		log_warnx("local uid=%u: cannot create a bufferevent",
		    (unsigned)c->uid);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
	n_clients++;
	/* never hold more than one whole frame (and its header) unread */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    (size_t)LOCAL_FRAME_MAX + FRAME_HEADER_LEN);
	/* (libevent 2.1 reads at most 4 KiB a turn whatever this allows,
	 * see sockio.h; clients are not topped up as links are, which paces
	 * how many documents being submitted are in memory at once) */
	if (bufferevent_set_max_single_read(c->bev, LOCAL_READ_CHUNK) != 0)
		log_warnx("local uid=%u: cannot raise the read size",
		    (unsigned)c->uid);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
	log_debug("local uid=%u pid=%ld connected", (unsigned)c->uid,
	    (long)cred.pid);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (listener != NULL)
		evconnlistener_enable(listener);
}

static void
accept_error_cb(struct evconnlistener *lst, void *arg)
{
	struct timeval	tv = { 1, 0 };

	(void)arg;
	log_warnx("local: accept failed: %s; pausing for 1s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lst);
	evtimer_add(resume_ev, &tv);
}

/* ------------------------------------------------------------ the socket */

/*
 * Remove a stale socket at PATH (nothing answers on it), refuse a live
 * one or anything that is not a socket.
 */
static int
clear_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, rc, e;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "socket %s: %s", sun->sun_path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "socket %s: exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "socket %s in use: another daemon "
		    "answers on it", sun->sun_path);
		return -1;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "socket %s: %s", sun->sun_path,
		    strerror(e));
		return -1;
	}
	if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s",
		    sun->sun_path, strerror(errno));
		return -1;
	}
	log_info("removed stale socket %s", sun->sun_path);
	return 0;
}

static int
socket_group(const char *name, gid_t *gid)
{
	struct group	*gr;
	char		*end;
	unsigned long	 v;

	errno = 0;
	if ((gr = getgrnam(name)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' &&
	    v < (unsigned long)(gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	return -1;
}

/* Bind and listen on PATH with mode 0660 and the configured group. */
static int
bind_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	gid_t			 gid;
	int			 fd, rc, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (clear_stale(&sun, err, errlen) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* never let the socket exist with a wider mode, even briefly */
	old = umask(0777 & ~LOCAL_SOCKET_MODE);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "cannot bind socket %s: %s", path,
		    strerror(e));
		goto fail;
	}
	if (cd->conf->group != NULL) {
		if (socket_group(cd->conf->group, &gid) == -1) {
			snprintf(err, errlen, "socket group %s: no such group",
			    cd->conf->group);
			goto fail_unlink;
		}
		if (chown(path, (uid_t)-1, gid) == -1) {
			snprintf(err, errlen, "cannot give socket %s to group "
			    "%s: %s", path, cd->conf->group, strerror(errno));
			goto fail_unlink;
		}
	}
	if (chmod(path, LOCAL_SOCKET_MODE) == -1 || lstat(path, &st) == -1) {
		snprintf(err, errlen, "socket %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (listen(fd, LOCAL_BACKLOG) == -1) {
		snprintf(err, errlen, "cannot listen on socket %s: %s", path,
		    strerror(errno));
		goto fail_unlink;
	}
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	return fd;
fail_unlink:
	unlink(path);
fail:
	close(fd);
	return -1;
}

int
local_listen(char *err, size_t errlen)
{
	int	fd;

	if ((fd = bind_socket(cd->conf->socket, err, errlen)) == -1)
		return -1;
	sock_path = xstrdup(cd->conf->socket);
	listener = evconnlistener_new(cd->base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE, LOCAL_BACKLOG, fd);
	if (listener == NULL) {
		snprintf(err, errlen, "cannot accept on socket %s",
		    cd->conf->socket);
		close(fd);
		local_close();
		return -1;
	}
	evconnlistener_set_error_cb(listener, accept_error_cb);
	resume_ev = evtimer_new(cd->base, resume_cb, NULL);
	if (resume_ev == NULL)
		fatalx("local: cannot create a timer");
	log_info("local API on %s", cd->conf->socket);
	return 0;
}

void
local_close(void)
{
	struct local_client	*c;
	struct stat		 st;

	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	if (resume_ev != NULL) {
		event_free(resume_ev);
		resume_ev = NULL;
	}
	while ((c = TAILQ_FIRST(&clients)) != NULL)
		client_free(c);
	/* remove the socket only if it is still the one we made */
	if (sock_path != NULL) {
		if (lstat(sock_path, &st) == 0 && st.st_dev == sock_dev &&
		    st.st_ino == sock_ino)
			unlink(sock_path);
		free(sock_path);
		sock_path = NULL;
	}
}
