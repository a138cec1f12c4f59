/*
 * audit.c - the audit trail through libcomity: export page by page,
 * verify, and the timeline of one request.
 *
 * An export holds one decoded page at a time (the daemon bounds a page to
 * 1000 records and about a megabyte), whatever the length of the trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

#define ID_LEN		16
#define HASH_LEN	32
#define PAGE_MAX	1000

static const char *
str(const char *s)
{
	return s != NULL ? s : "";
}

/* rec_fill - REC from the daemon's AI (strings borrowed); 0 or -1 */
static int
rec_fill(struct comity_audit_record *rec, const Comity__AuditRecordInfo *ai)
{
	if ((ai->message_id.len != 0 && ai->message_id.len != ID_LEN) ||
	    ai->hash.len != HASH_LEN || ai->prev_hash.len != HASH_LEN)
		return -1;
	memset(rec, 0, sizeof(*rec));
	rec->seq = ai->seq;
	rec->time = ai->time_ns;
	rec->event = (int)ai->event;
	rec->event_name = str(ai->event_name);
	if (ai->message_id.len == ID_LEN)
		wire_id_hex(ai->message_id.data, rec->message_id);
	rec->peer = str(ai->peer);
	rec->uid = ai->uid;
	rec->detail = str(ai->detail);
	memcpy(rec->prev_hash, ai->prev_hash.data, HASH_LEN);
	memcpy(rec->hash, ai->hash.data, HASH_LEN);
	return 0;
}

COMITY_EXPORT int
comity_audit_export(comity_conn *c, const struct comity_audit_filter *f,
    comity_audit_cb cb, void *arg)
{
	static const struct comity_audit_filter	 all;
	Comity__LocalRequest		 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__AuditExportReq		 ar = COMITY__AUDIT_EXPORT_REQ__INIT;
	Comity__LocalResponse		*r;
	struct comity_audit_record	 rec;
	uint8_t				 id[ID_LEN];
	uint64_t			 last;
	size_t				 i;
	int				 rc, more;

	if (c == NULL || cb == NULL)
		return COMITY_EINVAL;
	if (f == NULL)
		f = &all;
	if (f->since_ns < 0 || f->until_ns < 0 || f->page_size > PAGE_MAX)
		return conn_seterr(c, COMITY_EINVAL, "invalid audit filter");
	if (f->id != NULL && f->id[0] != '\0') {
		if (wire_id_parse(f->id, id) == -1)
			return conn_seterr(c, COMITY_EINVAL, "invalid request "
			    "id (32 hexadecimal digits expected)");
		ar.id.data = id;
		ar.id.len = ID_LEN;
	}
	ar.since_ns = f->since_ns;
	ar.until_ns = f->until_ns;
	ar.limit = f->page_size;
	ar.after_seq = 0;
	req.op_case = COMITY__LOCAL_REQUEST__OP_AUDIT_EXPORT;
	req.audit_export = &ar;
	do {
		if ((rc = conn_call(c, &req, &r)) != 0)
			return rc;
		last = ar.after_seq;
		for (i = 0; i < r->n_audit; i++) {
			/* in seq order, after the cursor: never a loop */
			if (rec_fill(&rec, r->audit[i]) != 0 ||
			    rec.seq <= last)
				return bad_response(c, r, "audit records out of "
				    "order");
			last = rec.seq;
			if ((rc = cb(&rec, arg)) != 0) {
				wire_free(r);
				return rc;
			}
		}
		more = r->more != 0;
		if (r->next_seq < last || (more && r->next_seq <= ar.after_seq))
			return bad_response(c, r, "the audit cursor does not "
			    "move forward");
		ar.after_seq = r->next_seq;
		wire_free(r);
	} while (more);
	return 0;
}

COMITY_EXPORT int
comity_audit_verify(comity_conn *c, const struct comity_audit_witness *w,
    struct comity_audit_result *res)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__AuditVerifyReq	 vr = COMITY__AUDIT_VERIFY_REQ__INIT;
	Comity__LocalResponse	*r;
	const Comity__AuditVerifyInfo *vi;
	uint8_t			 wh[HASH_LEN];
	int			 rc;

	if (c == NULL || res == NULL)
		return COMITY_EINVAL;
	memset(res, 0, sizeof(*res));
	if (w != NULL) {
		memcpy(wh, w->hash, HASH_LEN);
		vr.witness_seq = w->seq;
		vr.witness_hash.data = wh;
		vr.witness_hash.len = HASH_LEN;
	}
	req.op_case = COMITY__LOCAL_REQUEST__OP_AUDIT_VERIFY;
	req.audit_verify = &vr;
	if ((rc = conn_call(c, &req, &r)) != 0)
		return rc;
	if ((vi = r->verify) == NULL || (vi->head_hash.len != 0 &&
	    vi->head_hash.len != HASH_LEN) || (vi->ok && vi->bad_seq != 0))
		return bad_response(c, r, "verify without a valid result");
	res->ok = vi->ok != 0;
	res->count = vi->count;
	res->bad_seq = vi->bad_seq;
	snprintf(res->reason, sizeof(res->reason), "%s", str(vi->reason));
	res->head_seq = vi->head_seq;
	if (vi->head_hash.len == HASH_LEN)
		memcpy(res->head_hash, vi->head_hash.data, HASH_LEN);
	res->witnessed = vi->witnessed != 0;
	res->checkpoints = vi->checkpoints;
	res->last_checkpoint_seq = vi->last_checkpoint_seq;
	res->time_regressions = vi->time_regressions;
	res->first_regression_seq = vi->first_regression_seq;
	wire_free(r);
	if (!res->ok)
		return conn_seterr(c, COMITY_ECORRUPT, "audit chain broken at "
		    "seq %llu: %s", (unsigned long long)res->bad_seq,
		    res->reason);
	return 0;
}

COMITY_EXPORT int
comity_timeline(comity_conn *c, const char *hex, struct comity_timeline **out)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__IdReq		 ir = COMITY__ID_REQ__INIT;
	Comity__LocalResponse	*r;
	const Comity__TimelineInfo *ti;
	struct comity_timeline	*tl;
	struct comity_item	 it;
	uint8_t			 id[ID_LEN];
	size_t			 n;
	char			*p;
	int			 rc;

	if (c == NULL || out == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	if (hex == NULL || wire_id_parse(hex, id) == -1)
		return conn_seterr(c, COMITY_EINVAL, "invalid request id "
		    "(32 hexadecimal digits expected)");
	ir.id.data = id;
	ir.id.len = ID_LEN;
	req.op_case = COMITY__LOCAL_REQUEST__OP_TIMELINE;
	req.timeline = &ir;
	if ((rc = conn_call(c, &req, &r)) != 0)
		return rc;
	if (r->n_items != 1 || (ti = r->timeline) == NULL ||
	    item_fill(&it, r->items[0]) != 0)
		return bad_response(c, r, "timeline without its item");
	/* one block: the struct, then the item's strings */
	n = sizeof(*tl) + strlen(it.from) + strlen(it.to) +
	    strlen(it.case_ref) + strlen(it.reason) + 4;
	if ((tl = cm_calloc(1, n)) == NULL) {
		wire_free(r);
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	}
	tl->item = it;
	p = (char *)(tl + 1);
	tl->item.from = pool_put(&p, it.from);
	tl->item.to = pool_put(&p, it.to);
	tl->item.case_ref = pool_put(&p, it.case_ref);
	tl->item.reason = pool_put(&p, it.reason);
	tl->created_at = ti->created_at_ns;
	tl->peer_delivered_at = ti->peer_delivered_at_ns;
	tl->peer_delivered_seq = ti->peer_delivered_seq;
	tl->peer_delivered_kind = (int)ti->peer_delivered_kind;
	tl->peer_retrieved_at = ti->peer_retrieved_at_ns;
	tl->peer_retrieved_seq = ti->peer_retrieved_seq;
	wire_free(r);
	*out = tl;
	return 0;
}

COMITY_EXPORT int
comity_audit_checkpoint(comity_conn *c, uint8_t **der, size_t *len)
{
	Comity__LocalRequest	 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__EmptyReq	 er = COMITY__EMPTY_REQ__INIT;
	Comity__LocalResponse	*r;
	int			 rc;

	if (c == NULL || der == NULL || len == NULL)
		return COMITY_EINVAL;
	*der = NULL;
	*len = 0;
	req.op_case = COMITY__LOCAL_REQUEST__OP_AUDIT_CHECKPOINT;
	req.audit_checkpoint = &er;
	if ((rc = conn_call(c, &req, &r)) != 0)
		return rc;
	return take_bytes(c, r, &r->checkpoint, "checkpoint without its "
	    "signed data", der, len);
}
