/*
 * checkpoint.c - periodic and on-demand signed checkpoints (checkpoint.h).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "audit.h"
#include "checkpoint.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "tls.h"
#include "xmalloc.h"

struct cp_op {
	checkpoint_done_fn	 done;
	void			*arg;
	uint64_t		 seq;
	unsigned char		 hash[32];
	uint8_t			*der;
	size_t			 len;
	char			 err[256];
};

static struct event	*cp_ev;
static uint64_t		 cp_last_seq = UINT64_MAX;	/* head last signed */

static int
cp_apply(struct store_txn *t, void *arg)
{
	struct cp_op	*op = arg;

	free(op->der);
	op->der = NULL;
	return audit_checkpoint(t, &cd->tls->seal, cd->conf->id, now_ns(),
	    &op->seq, op->hash, &op->der, &op->len, op->err, sizeof(op->err));
}

static void
cp_done(void *arg, int rc)
{
	struct cp_op	*op = arg;

	if (rc == 0) {
		cp_last_seq = op->seq + 1;	/* the CHECKPOINT record */
		log_info("audit checkpoint of seq %llu",
		    (unsigned long long)op->seq);
	} else
		log_warnx("audit checkpoint failed: %s", op->err[0] != '\0' ?
		    op->err : "store error");
	if (op->done != NULL)
		op->done(op->arg, rc, rc == 0 ? op->der : NULL,
		    rc == 0 ? op->len : 0, op->err);
	free(op->der);
	free(op);
}

void
checkpoint_now(checkpoint_done_fn done, void *arg)
{
	struct cp_op	*op = xcalloc(1, sizeof(*op));

	op->done = done;
	op->arg = arg;
	store_batch_add(cd->store, cp_apply, cp_done, op);
}

static void
arm(void)
{
	uint64_t	ms = cd->conf->checkpoint_interval_ms;
	struct timeval	tv;

	if (cp_ev == NULL || ms == 0 || cd->stopping)
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	if (evtimer_add(cp_ev, &tv) != 0)
		fatalx("cannot set the checkpoint timer");
}

static void
cp_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct store_txn	*t;
	unsigned char		 hash[32];
	uint64_t		 seq = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	/* only when something happened since the last checkpoint */
	if (store_read_begin(cd->store, &t) == 0) {
		if (audit_head(t, &seq, hash) != 0)
			seq = 0;
		store_read_end(t);
	}
	if (seq != 0 && seq != cp_last_seq)
		checkpoint_now(NULL, NULL);
	arm();
}

void
checkpoint_init(void)
{
	if (cp_ev == NULL && (cp_ev = evtimer_new(cd->base, cp_timer,
	    NULL)) == NULL)
		fatalx("cannot create the checkpoint timer");
	arm();
}
