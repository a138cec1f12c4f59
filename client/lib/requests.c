/*
 * requests.c - the operations of libcomity: build a LocalRequest, make
 * the call, turn the LocalResponse into the public structs.
 *
 * Results the caller keeps are single blocks (structs followed by their
 * strings) so that comity_free() frees them; a fetched request keeps the
 * decoded response behind it instead of copying documents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

#define ID_LEN	16

static const char *
str(const char *s)
{
	return s != NULL ? s : "";
}

static int
parse_id(comity_conn *c, const char *hex, uint8_t id[ID_LEN])
{
	if (wire_id_parse(hex, id) == -1)
		return conn_seterr(c, COMITY_EINVAL, "invalid request id "
		    "(32 hexadecimal digits expected)");
	return 0;
}

int
bad_response(comity_conn *c, Comity__LocalResponse *r, const char *what)
{
	wire_free(r);
	c->dead = COMITY_EPROTO;
	return conn_seterr(c, COMITY_EPROTO, "malformed response from the "
	    "daemon: %s", what);
}

int
take_bytes(comity_conn *c, Comity__LocalResponse *r,
    const ProtobufCBinaryData *b, const char *what, uint8_t **out,
    size_t *len)
{
	if (b->len == 0)
		return bad_response(c, r, what);
	if ((*out = cm_malloc(b->len)) == NULL) {
		wire_free(r);
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	}
	memcpy(*out, b->data, b->len);
	*len = b->len;
	wire_free(r);
	return 0;
}

/* ------------------------------------------------------------ submit */

/* One SubmitReq and what it points to. */
struct sub_msg {
	Comity__SubmitReq	  sub;
	Comity__Document	 *docs;		/* owned */
	Comity__Document	**dp;		/* owned */
	uint8_t			  reply[ID_LEN];
	int			  sent;		/* batch: part of the request */
};

static void
sub_free(struct sub_msg *m)
{
	free(m->docs);
	free(m->dp);
	m->docs = NULL;
	m->dp = NULL;
}

/*
 * sub_build - M from S, strings borrowed from S.  Returns 0, COMITY_EINVAL
 * with the reason in WHY, or COMITY_ENOMEM; free M with sub_free() either
 * way.
 */
static int
sub_build(const struct comity_submit *s, struct sub_msg *m, char *why,
    size_t whylen)
{
	size_t	i;

	comity__submit_req__init(&m->sub);
	m->docs = NULL;
	m->dp = NULL;
	if (s->to == NULL || !wire_id_valid(s->to)) {
		snprintf(why, whylen, "invalid recipient authority id");
		return COMITY_EINVAL;
	}
	if (s->type <= COMITY_TYPE_UNSPECIFIED || s->type > COMITY_TYPE_OTHER) {
		snprintf(why, whylen, "invalid request type");
		return COMITY_EINVAL;
	}
	if (s->ndocs > 0 && s->docs == NULL) {
		snprintf(why, whylen, "no documents given");
		return COMITY_EINVAL;
	}
	m->sub.to = (char *)s->to;
	m->sub.type = (Comity__RequestType)s->type;
	m->sub.priority = s->urgent ? COMITY__PRIORITY__PRIORITY_URGENT :
	    COMITY__PRIORITY__PRIORITY_NORMAL;
	m->sub.case_ref = (char *)str(s->case_ref);
	m->sub.legal_basis = (char *)str(s->basis);
	m->sub.language = (char *)str(s->lang);
	m->sub.subject = (char *)str(s->subject);
	m->sub.their_ref = (char *)str(s->their_ref);
	m->sub.idempotency_key = (char *)str(s->idempotency_key);
	m->sub.expires_at_ns = s->expires_at_ns;
	if (s->reply_to != NULL && s->reply_to[0] != '\0') {
		if (wire_id_parse(s->reply_to, m->reply) == -1) {
			snprintf(why, whylen, "invalid reply-to id (32 "
			    "hexadecimal digits expected)");
			return COMITY_EINVAL;
		}
		m->sub.in_reply_to.data = m->reply;
		m->sub.in_reply_to.len = ID_LEN;
	}
	if (s->ndocs > 0) {
		m->docs = cm_calloc(s->ndocs, sizeof(*m->docs));
		m->dp = cm_calloc(s->ndocs, sizeof(*m->dp));
		if (m->docs == NULL || m->dp == NULL) {
			snprintf(why, whylen, "out of memory");
			return COMITY_ENOMEM;
		}
	}
	for (i = 0; i < s->ndocs; i++) {
		const struct comity_doc *d = &s->docs[i];

		if (d->name == NULL || d->name[0] == '\0' ||
		    (d->data == NULL && d->len > 0)) {
			snprintf(why, whylen, "document %zu has no name or no "
			    "data", i + 1);
			return COMITY_EINVAL;
		}
		comity__document__init(&m->docs[i]);
		m->docs[i].name = (char *)d->name;
		m->docs[i].media_type = (char *)(d->media_type != NULL ?
		    d->media_type : "application/octet-stream");
		m->docs[i].content.data = (uint8_t *)(uintptr_t)d->data;
		m->docs[i].content.len = d->len;
		m->dp[i] = &m->docs[i];
	}
	m->sub.n_documents = s->ndocs;
	m->sub.documents = m->dp;
	return 0;
}

COMITY_EXPORT int
comity_submit(comity_conn *c, const struct comity_submit *s, char id[33],
    int *existed)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__LocalResponse	*r = NULL;
	struct sub_msg		 m;
	char			 why[CONN_MSG_MAX];
	int			 rc;

	if (c == NULL || s == NULL || id == NULL)
		return COMITY_EINVAL;
	id[0] = '\0';
	if (existed != NULL)
		*existed = 0;
	if ((rc = sub_build(s, &m, why, sizeof(why))) != 0) {
		rc = conn_seterr(c, rc, "%s", why);
		goto out;
	}
	req.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT;
	req.submit = &m.sub;
	if ((rc = conn_call(c, &req, &r)) != 0)
		goto out;
	if (r->id.len != ID_LEN) {
		rc = bad_response(c, r, "submit without an id");
		goto out;
	}
	wire_id_hex(r->id.data, id);
	if (existed != NULL)
		*existed = r->existed != 0;
	wire_free(r);
out:
	sub_free(&m);
	return rc;
}

/* One line of reason M (the daemon's, or ours) into OUT, control bytes
 * shown as '?'. */
static void
result_msg(char *out, size_t outlen, const char *m)
{
	size_t	i;

	for (i = 0; m[i] != '\0' && m[i] != '\n' && i < outlen - 1; i++)
		out[i] = (unsigned char)m[i] < 0x20 || m[i] == 0x7f ? '?' :
		    m[i];
	out[i] = '\0';
}

/* The whole batch failed with RC: every result says so. */
static int
batch_fail(comity_conn *c, struct comity_submit_result *res, size_t n,
    int rc)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].error = rc;
		result_msg(res[i].message, sizeof(res[i].message),
		    c->msg[0] != '\0' ? c->msg : comity_strerror(rc));
	}
	return rc;
}

/* Results of the requests sent (M[i].sent) from response R, in order.
 * Frees R. */
static int
batch_results(comity_conn *c, Comity__LocalResponse *r,
    const struct sub_msg *m, size_t n, size_t nsent,
    struct comity_submit_result *res)
{
	const Comity__SubmitResult	*sr;
	size_t				 i, k = 0;

	/* exactly one result per request sent, each well formed */
	if (r->n_results != nsent)
		return bad_response(c, r, "batch results do not match the "
		    "requests");
	for (i = 0; i < r->n_results; i++) {
		sr = r->results[i];
		if (sr->error > 0 || (sr->error == 0 && sr->id.len != ID_LEN))
			return bad_response(c, r, "malformed batch result");
	}
	for (i = 0; i < n; i++) {
		if (!m[i].sent)
			continue;
		sr = r->results[k++];
		res[i].error = sr->error;
		if (sr->error == 0) {
			wire_id_hex(sr->id.data, res[i].id);
			res[i].existed = sr->existed != 0;
		} else
			result_msg(res[i].message, sizeof(res[i].message),
			    sr->message != NULL && sr->message[0] != '\0' ?
			    sr->message : comity_strerror(sr->error));
	}
	wire_free(r);
	return 0;
}

COMITY_EXPORT int
comity_submit_batch(comity_conn *c, const struct comity_submit *reqs,
    size_t n, struct comity_submit_result *res)
{
	Comity__LocalRequest	  req = COMITY__LOCAL_REQUEST__INIT;
	Comity__SubmitBatchReq	  batch = COMITY__SUBMIT_BATCH_REQ__INIT;
	Comity__SubmitReq	**items = NULL;
	Comity__LocalResponse	 *r = NULL;
	struct sub_msg		 *m = NULL;
	size_t			  i, nsent = 0;
	int			  rc;

	if (c == NULL || reqs == NULL || res == NULL)
		return COMITY_EINVAL;
	c->msg[0] = '\0';
	if (n == 0)
		return conn_seterr(c, COMITY_EINVAL, "empty batch: no "
		    "requests");
	if (n > COMITY_BATCH_MAX) {
		conn_seterr(c, COMITY_ETOOBIG, "batch of %zu requests: at most "
		    "%d in one batch", n, COMITY_BATCH_MAX);
		return batch_fail(c, res, n, COMITY_ETOOBIG);
	}
	memset(res, 0, n * sizeof(*res));
	if ((m = cm_calloc(n, sizeof(*m))) == NULL ||
	    (items = cm_calloc(n, sizeof(*items))) == NULL) {
		rc = conn_seterr(c, COMITY_ENOMEM, "out of memory");
		goto fail;
	}
	/* a request with a bad argument fails alone, unsent */
	for (i = 0; i < n; i++) {
		rc = sub_build(&reqs[i], &m[i], res[i].message,
		    sizeof(res[i].message));
		if (rc == COMITY_ENOMEM) {
			rc = conn_seterr(c, rc, "out of memory");
			goto fail;
		}
		if (rc != 0) {
			res[i].error = rc;
			continue;
		}
		m[i].sent = 1;
		items[nsent++] = &m[i].sub;
	}
	if (nsent > 0) {
		batch.n_items = nsent;
		batch.items = items;
		req.op_case = COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH;
		req.submit_batch = &batch;
		if ((rc = conn_call(c, &req, &r)) != 0 ||
		    (rc = batch_results(c, r, m, n, nsent, res)) != 0)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	batch_fail(c, res, n, rc);
out:
	for (i = 0; m != NULL && i < n; i++)
		sub_free(&m[i]);
	free(m);
	free(items);
	return rc;
}

/* ------------------------------------------------------------ items */

int
item_fill(struct comity_item *it, const Comity__ItemInfo *ii)
{
	const Comity__Times	*t = ii->times;

	if (ii->id.len != ID_LEN)
		return -1;
	memset(it, 0, sizeof(*it));
	wire_id_hex(ii->id.data, it->id);
	it->box = ii->box;
	it->state = ii->state;
	it->from = str(ii->from);
	it->to = str(ii->to);
	it->priority = ii->priority;
	it->type = ii->type;
	it->case_ref = str(ii->case_ref);
	if (t != NULL) {
		it->submitted_at = t->submitted_at;
		it->sent_at = t->sent_at;
		it->delivered_at = t->delivered_at;
		it->received_at = t->received_at;
		it->retrieved_at = t->retrieved_at;
		it->rejected_at = t->rejected_at;
		it->expired_at = t->expired_at;
		it->cancelled_at = t->cancelled_at;
	}
	it->expires_at = ii->expires_at_ns;
	it->reason = str(ii->reason);
	it->has_delivered_receipt = ii->has_delivered_receipt != 0;
	it->has_retrieved_receipt = ii->has_retrieved_receipt != 0;
	it->seq = ii->seq;
	it->body_size = ii->body_size;
	it->documents = ii->documents;
	it->kind = ii->kind;
	if (ii->in_reply_to.len == ID_LEN)
		wire_id_hex(ii->in_reply_to.data, it->in_reply_to);
	if (t != NULL) {
		it->warned_at = t->warned_at;
		it->escalated_at = t->escalated_at;
	}
	return 0;
}

/* pool_put - copy S to the pool at *P (advanced past it); the copy */
const char *
pool_put(char **p, const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*d = *p;

	memcpy(d, s, n);
	*p += n;
	return d;
}

static struct comity_item *
item_dup(const struct comity_item *src)
{
	struct comity_item	*it;
	size_t			 n;
	char			*p;

	n = sizeof(*it) + strlen(src->from) + strlen(src->to) +
	    strlen(src->case_ref) + strlen(src->reason) + 4;
	if ((it = cm_malloc(n)) == NULL)
		return NULL;
	*it = *src;
	p = (char *)(it + 1);
	it->from = pool_put(&p, src->from);
	it->to = pool_put(&p, src->to);
	it->case_ref = pool_put(&p, src->case_ref);
	it->reason = pool_put(&p, src->reason);
	return it;
}

static int
id_call(comity_conn *c, Comity__LocalRequest *req, Comity__IdReq *ir,
    const char *hex, uint8_t id[ID_LEN], Comity__LocalResponse **r)
{
	int	rc;

	if (c == NULL)
		return COMITY_EINVAL;
	if ((rc = parse_id(c, hex, id)) != 0)
		return rc;
	ir->id.data = id;
	ir->id.len = ID_LEN;
	return conn_call(c, req, r);
}

COMITY_EXPORT int
comity_status(comity_conn *c, const char *hex, struct comity_item **out)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__LocalResponse	*r;
	struct comity_item	 it;
	uint8_t			 id[ID_LEN];
	int			 rc;

	if (out == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	req.op_case = COMITY__LOCAL_REQUEST__OP_STATUS;
	req.status = &ir;
	if ((rc = id_call(c, &req, &ir, hex, id, &r)) != 0)
		return rc;
	if (r->n_items != 1 || item_fill(&it, r->items[0]) != 0)
		return bad_response(c, r, "status without one item");
	*out = item_dup(&it);
	wire_free(r);
	if (*out == NULL)
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	return 0;
}

COMITY_EXPORT int
comity_list(comity_conn *c, const struct comity_list_opts *opts,
    comity_item_cb cb, void *arg)
{
	static const struct comity_list_opts	 all;
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__ListReq		 lr = COMITY__LIST_REQ__INIT;
	Comity__LocalResponse	*r;
	struct comity_item	 it;
	size_t			 i;
	uint64_t		 from;
	int			 rc, more;

	if (c == NULL || cb == NULL)
		return COMITY_EINVAL;
	if (opts == NULL)
		opts = &all;
	if ((opts->box != COMITY_BOX_OUT && opts->box != COMITY_BOX_IN) ||
	    opts->state < COMITY_STATE_ANY ||
	    opts->state > COMITY_STATE_RECEIVED || opts->since_ns < 0)
		return conn_seterr(c, COMITY_EINVAL, "invalid list filter");
	lr.box = (Comity__Box)opts->box;
	lr.urgent_only = opts->urgent_only != 0;
	lr.state = (Comity__State)opts->state;
	lr.since_ns = opts->since_ns;
	lr.limit = opts->page_size;
	lr.after_seq = 0;
	req.op_case = COMITY__LOCAL_REQUEST__OP_LIST;
	req.list = &lr;
	do {
		from = lr.after_seq;
		if ((rc = conn_call(c, &req, &r)) != 0)
			return rc;
		for (i = 0; i < r->n_items; i++) {
			/* the cursor must move forward, or we would loop */
			if (item_fill(&it, r->items[i]) != 0 ||
			    it.seq <= lr.after_seq)
				return bad_response(c, r, "list items out of "
				    "order");
			lr.after_seq = it.seq;
			if ((rc = cb(&it, arg)) != 0) {
				wire_free(r);
				return rc;
			}
		}
		more = r->more != 0;
		/*
		 * The daemon looks at a bounded number of records a page and
		 * says where it stopped: the next page starts there, even
		 * when the filter matched none of them.  It must move on.
		 */
		if (more && r->next_seq != 0) {
			if (r->next_seq < lr.after_seq)
				return bad_response(c, r, "list cursor out "
				    "of order");
			lr.after_seq = r->next_seq;
		}
		if (more && lr.after_seq == from)
			return bad_response(c, r, "empty page with more to "
			    "come");
		wire_free(r);
	} while (more);
	return 0;
}

/* ------------------------------------------------------------ fetch */

COMITY_EXPORT int
comity_fetch(comity_conn *c, const char *hex, struct comity_request **out)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__LocalResponse	*r;
	Comity__Request		*q;
	struct comity_request	*rq;
	uint8_t			 id[ID_LEN];
	size_t			 i;
	int			 rc;

	if (out == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	req.op_case = COMITY__LOCAL_REQUEST__OP_FETCH;
	req.fetch = &ir;
	if ((rc = id_call(c, &req, &ir, hex, id, &r)) != 0)
		return rc;
	q = r->request;
	if (q == NULL || q->id.len != ID_LEN ||
	    (q->in_reply_to.len != 0 && q->in_reply_to.len != ID_LEN))
		return bad_response(c, r, "fetch without a valid request");
	if ((rq = cm_calloc(1, sizeof(*rq))) == NULL ||
	    (rq->docs = cm_calloc(q->n_documents, sizeof(*rq->docs))) ==
	    NULL) {
		free(rq);
		wire_free(r);
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	}
	wire_id_hex(q->id.data, rq->id);
	rq->from = str(q->from);
	rq->to = str(q->to);
	rq->priority = q->priority;
	rq->type = q->type;
	rq->basis = str(q->legal_basis);
	rq->case_ref = str(q->case_ref);
	rq->their_ref = str(q->their_ref);
	if (q->in_reply_to.len == ID_LEN)
		wire_id_hex(q->in_reply_to.data, rq->reply_to);
	rq->lang = str(q->language);
	rq->subject = str(q->subject);
	rq->created_at = q->created_at_ns;
	rq->expires_at = q->expires_at_ns;
	for (i = 0; i < q->n_documents; i++) {
		rq->docs[i].name = str(q->documents[i]->name);
		rq->docs[i].media_type = str(q->documents[i]->media_type);
		rq->docs[i].data = q->documents[i]->content.data;
		rq->docs[i].len = q->documents[i]->content.len;
	}
	rq->ndocs = q->n_documents;
	rq->priv = r;
	*out = rq;
	return 0;
}

COMITY_EXPORT void
comity_request_free(struct comity_request *rq)
{
	size_t	i;

	if (rq == NULL)
		return;
	for (i = 0; i < rq->ndocs; i++)
		if (rq->docs[i].len > 0)
			explicit_bzero((void *)(uintptr_t)rq->docs[i].data,
			    rq->docs[i].len);
	wire_free(rq->priv);
	free(rq->docs);
	free(rq);
}

/* ------------------------------------------------------------ ack, cancel */

static int
simple_id_op(comity_conn *c, const char *hex, int op)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			 id[ID_LEN];
	int			 rc;

	req.op_case = (Comity__LocalRequest__OpCase)op;
	if (op == COMITY__LOCAL_REQUEST__OP_ACK)
		req.ack = &ir;
	else
		req.cancel = &ir;
	if ((rc = id_call(c, &req, &ir, hex, id, &r)) != 0)
		return rc;
	wire_free(r);
	return 0;
}

COMITY_EXPORT int
comity_ack(comity_conn *c, const char *hex)
{
	return simple_id_op(c, hex, COMITY__LOCAL_REQUEST__OP_ACK);
}

COMITY_EXPORT int
comity_cancel(comity_conn *c, const char *hex)
{
	return simple_id_op(c, hex, COMITY__LOCAL_REQUEST__OP_CANCEL);
}

COMITY_EXPORT int
comity_receipt(comity_conn *c, const char *hex, int kind, uint8_t **der,
    size_t *len)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__ReceiptReq	 rr = COMITY__RECEIPT_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			 id[ID_LEN];
	int			 rc;

	if (c == NULL || der == NULL || len == NULL)
		return COMITY_EINVAL;
	*der = NULL;
	*len = 0;
	if (kind != COMITY_RECEIPT_DELIVERED &&
	    kind != COMITY_RECEIPT_REJECTED && kind != COMITY_RECEIPT_RETRIEVED)
		return conn_seterr(c, COMITY_EINVAL, "invalid receipt kind");
	if ((rc = parse_id(c, hex, id)) != 0)
		return rc;
	rr.id.data = id;
	rr.id.len = ID_LEN;
	rr.kind = (Comity__ReceiptKind)kind;
	req.op_case = COMITY__LOCAL_REQUEST__OP_RECEIPT;
	req.receipt = &rr;
	if ((rc = conn_call(c, &req, &r)) != 0)
		return rc;
	return take_bytes(c, r, &r->receipt, "empty receipt", der, len);
}

COMITY_EXPORT int
comity_sealed(comity_conn *c, const char *hex, uint8_t **der, size_t *len)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__LocalResponse	*r;
	uint8_t			 id[ID_LEN];
	int			 rc;

	if (c == NULL || der == NULL || len == NULL)
		return COMITY_EINVAL;
	*der = NULL;
	*len = 0;
	if ((rc = parse_id(c, hex, id)) != 0)
		return rc;
	ir.id.data = id;
	ir.id.len = ID_LEN;
	req.op_case = COMITY__LOCAL_REQUEST__OP_SEALED;
	req.sealed = &ir;
	if ((rc = conn_call(c, &req, &r)) != 0)
		return rc;
	return take_bytes(c, r, &r->sealed, "empty sealed body", der, len);
}

/* ------------------------------------------------------------ peers */

static int
add_len(size_t *total, const char *s)
{
	size_t	n = strlen(str(s)) + 1;

	if (*total > SIZE_MAX - n)
		return -1;
	*total += n;
	return 0;
}

static int
empty_call(comity_conn *c, int op, Comity__LocalResponse **r)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__EmptyReq	 e = COMITY__EMPTY_REQ__INIT;

	if (c == NULL)
		return COMITY_EINVAL;
	req.op_case = (Comity__LocalRequest__OpCase)op;
	if (op == COMITY__LOCAL_REQUEST__OP_PEERS)
		req.peers = &e;
	else
		req.directory = &e;
	return conn_call(c, &req, r);
}

COMITY_EXPORT int
comity_peers(comity_conn *c, struct comity_peer **out, size_t *n)
{
	Comity__LocalResponse	*r;
	struct comity_peer	*arr;
	size_t			 i, total;
	char			*p;
	int			 rc;

	if (out == NULL || n == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	*n = 0;
	if ((rc = empty_call(c, COMITY__LOCAL_REQUEST__OP_PEERS, &r)) != 0)
		return rc;
	if (r->n_peers == 0) {
		wire_free(r);
		return 0;
	}
	if (r->n_peers > SIZE_MAX / sizeof(*arr))
		return bad_response(c, r, "too many peers");
	total = r->n_peers * sizeof(*arr);
	for (i = 0; i < r->n_peers; i++) {
		const Comity__PeerInfo *pi = r->peers[i];

		if (add_len(&total, pi->id) || add_len(&total, pi->name) ||
		    add_len(&total, pi->endpoint) ||
		    add_len(&total, pi->last_error))
			return bad_response(c, r, "peer list too large");
	}
	if ((arr = cm_malloc(total)) == NULL) {
		wire_free(r);
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	}
	p = (char *)(arr + r->n_peers);
	for (i = 0; i < r->n_peers; i++) {
		const Comity__PeerInfo	*pi = r->peers[i];
		struct comity_peer	*pe = &arr[i];

		memset(pe, 0, sizeof(*pe));
		pe->id = pool_put(&p, str(pi->id));
		pe->name = pool_put(&p, str(pi->name));
		pe->endpoint = pool_put(&p, str(pi->endpoint));
		pe->last_error = pool_put(&p, str(pi->last_error));
		pe->up = pi->up != 0;
		pe->queued = pi->queued;
		pe->queued_urgent = pi->queued_urgent;
		pe->in_flight = pi->in_flight;
		pe->oldest_queued_ns = pi->oldest_queued_ns;
		pe->oldest_urgent_ns = pi->oldest_urgent_ns;
		pe->oldest_normal_ns = pi->oldest_normal_ns;
		pe->last_contact_ns = pi->last_contact_ns;
		pe->last_delivery_ns = pi->last_delivery_ns;
		pe->clock_skew_ns = pi->clock_skew_ns;
		pe->next_attempt_ns = pi->next_attempt_ns;
		pe->clock_skew_warning = pi->clock_skew_warning != 0;
		pe->held_seq = pi->held_seq;
		if (pi->held_head.len == sizeof(pe->held_head))
			memcpy(pe->held_head, pi->held_head.data,
			    sizeof(pe->held_head));
		pe->held_at_ns = pi->held_at_ns;
		pe->given_seq = pi->given_seq;
		if (pi->given_head.len == sizeof(pe->given_head))
			memcpy(pe->given_head, pi->given_head.data,
			    sizeof(pe->given_head));
		pe->given_at_ns = pi->given_at_ns;
	}
	*out = arr;
	*n = r->n_peers;
	wire_free(r);
	return 0;
}

/* ------------------------------------------------------------ directory */

static int
dir_size(const Comity__LocalResponse *r, size_t *total)
{
	size_t	i, j, nptr = 0;

	if (r->n_directory > SIZE_MAX / sizeof(struct comity_dir_entry))
		return -1;
	*total = r->n_directory * sizeof(struct comity_dir_entry);
	for (i = 0; i < r->n_directory; i++) {
		const Comity__DirEntry *d = r->directory[i];

		if (add_len(total, d->id) || add_len(total, d->name) ||
		    add_len(total, d->endpoint) || add_len(total, d->timezone) ||
		    add_len(total, d->hours) || add_len(total, d->urgent) ||
		    add_len(total, d->pin))
			return -1;
		for (j = 0; j < d->n_accepts; j++)
			if (add_len(total, d->accepts[j]))
				return -1;
		for (j = 0; j < d->n_languages; j++)
			if (add_len(total, d->languages[j]))
				return -1;
		/* each count is bounded by the decoded message's size */
		nptr += d->n_accepts + d->n_languages;
	}
	if (nptr > (SIZE_MAX - *total) / sizeof(char *))
		return -1;
	*total += nptr * sizeof(char *);
	return 0;
}

COMITY_EXPORT int
comity_directory(comity_conn *c, struct comity_dir_entry **out, size_t *n)
{
	Comity__LocalResponse	*r;
	struct comity_dir_entry	*arr;
	const char		**ptrs;
	size_t			 i, j, total, nptr = 0;
	char			*p;
	int			 rc;

	if (out == NULL || n == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	*n = 0;
	if ((rc = empty_call(c, COMITY__LOCAL_REQUEST__OP_DIRECTORY, &r)) != 0)
		return rc;
	if (r->n_directory == 0) {
		wire_free(r);
		return 0;
	}
	if (dir_size(r, &total) != 0)
		return bad_response(c, r, "directory too large");
	if ((arr = cm_malloc(total)) == NULL) {
		wire_free(r);
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	}
	/* layout: entries, then the pointer arrays, then the strings */
	ptrs = (const char **)(void *)(arr + r->n_directory);
	for (i = 0; i < r->n_directory; i++)
		nptr += r->directory[i]->n_accepts +
		    r->directory[i]->n_languages;
	p = (char *)(ptrs + nptr);
	for (i = 0; i < r->n_directory; i++) {
		const Comity__DirEntry	*d = r->directory[i];
		struct comity_dir_entry	*e = &arr[i];

		memset(e, 0, sizeof(*e));
		e->id = pool_put(&p, str(d->id));
		e->name = pool_put(&p, str(d->name));
		e->endpoint = pool_put(&p, str(d->endpoint));
		e->timezone = pool_put(&p, str(d->timezone));
		e->hours = pool_put(&p, str(d->hours));
		e->urgent = pool_put(&p, str(d->urgent));
		e->pin = pool_put(&p, str(d->pin));
		e->self = d->self != 0;
		e->accepts = ptrs;
		e->naccepts = d->n_accepts;
		for (j = 0; j < d->n_accepts; j++)
			*ptrs++ = pool_put(&p, str(d->accepts[j]));
		e->languages = ptrs;
		e->nlanguages = d->n_languages;
		for (j = 0; j < d->n_languages; j++)
			*ptrs++ = pool_put(&p, str(d->languages[j]));
	}
	*out = arr;
	*n = r->n_directory;
	wire_free(r);
	return 0;
}
