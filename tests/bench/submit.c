/*
 * submit.c - what the latency scenarios (idle, urgent) submit: one MLA
 * request with one document of incompressible filler, retried while the
 * daemon answers "busy, try again" and the caller's deadline allows.
 */
#include <string.h>
#include <stdlib.h>

#include "bench.h"

#define SUBMIT_EAGAIN_SLEEP_MS	5

uint8_t *
bench_doc(size_t len)
{
	uint64_t	 x = BENCH_XORSHIFT_SEED;
	uint8_t		*p;
	size_t		 i;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(bench_xorshift64(&x) >> 32);
	return p;
}

void
bench_request(struct comity_submit *req, struct comity_doc *doc,
    const char *to, const uint8_t *data, size_t len, int urgent,
    const char *case_ref)
{
	memset(doc, 0, sizeof(*doc));
	doc->name = urgent ? "urgent.bin" : "bulk.bin";
	doc->media_type = "application/octet-stream";
	doc->data = data;
	doc->len = len;
	memset(req, 0, sizeof(*req));
	req->to = to;
	req->type = COMITY_TYPE_MLA;
	req->urgent = urgent;
	req->case_ref = case_ref;
	req->lang = "en";
	req->subject = urgent ? "comity-bench urgent" : "comity-bench bulk";
	req->docs = doc;
	req->ndocs = 1;
}

int
bench_submit(comity_conn *conn, const char *to, const uint8_t *doc,
    size_t len, int urgent, const char *case_ref, int64_t deadline,
    char id[33])
{
	struct comity_submit	req;
	struct comity_doc	d;
	int			rc;

	bench_request(&req, &d, to, doc, len, urgent, case_ref);
	for (;;) {
		rc = comity_submit(conn, &req, id, NULL);
		if (rc != COMITY_EAGAIN || bench_interrupted ||
		    now_ns() > deadline)
			return rc;
		sleep_ms(SUBMIT_EAGAIN_SLEEP_MS);
	}
}
