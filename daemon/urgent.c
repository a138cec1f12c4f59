/*
 * urgent.c - non-delivery warnings and escalations (see urgent.h).
 *
 * A step reads what is due in a short read transaction, seals the
 * escalation notices outside any transaction, and hands one store batch
 * operation to the group commit; that operation looks at each item again
 * inside the transaction (it may have been delivered or retrieved
 * meanwhile) and changes only what is still due.  The watch events, log
 * lines and hooks follow the commit.  One step at a time.
 *
 * The warnings walk DB_OUTQ (peer \0 class u64be(seq), see store.h) over
 * every counterpart that has something queued, directory or not, in
 * passes that may span several steps: the key to go on from is kept
 * between steps, and with it the earliest warning due among what the
 * pass has seen.  A request submitted during a pass, behind the point
 * the pass has reached, is noted (urgent_note_submitted) and the timer
 * set for it after the pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "audit.h"
#include "bounds.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "hook.h"
#include "log.h"
#include "notify.h"
#include "queue.h"
#include "store.h"
#include "urgent.h"
#include "wire.h"
#include "xmalloc.h"

#define INKEY_MIN	(ENVELOPE_ID_LEN + 4)	/* "AA-B" is the shortest id */
#define INKEY_MAX	(ENVELOPE_ID_LEN + ID_MAX)
#define URGQ_KEY_MAX	(8 + INKEY_MAX)
#define OUTQ_KEY_MAX	(ID_MAX + 2 + 8)
#define OUTQ_URGENT	0		/* DB_OUTQ class byte of urgent items */

struct warn_item {
	uint8_t		 id[ENVELOPE_ID_LEN];
	char		 peer[ID_MAX + 1];
	/* set by the apply, read after the commit */
	int		 done;
	int		 type;
	int		 state;
	uint32_t	 attempts;
	int64_t		 submitted_at;
	char		*case_ref;
};

struct esc_item {
	uint8_t		*key;		/* DB_URGQ key */
	size_t		 klen;
	int		 drop;		/* only the index entry goes */
	int		 bad;		/* a malformed key: quarantined */
	uint8_t		 id[ENVELOPE_ID_LEN];
	char		 from[ID_MAX + 1];
	int		 type;
	char		*case_ref;
	int64_t		 received_at;
	struct queue_notice *notice;	/* NULL: none could be sealed */
	char		 why[QUEUE_ERR_MAX];	/* and why */
	int		 done;		/* escalated by this commit */
};

struct step {
	struct warn_item	 warn[URGENT_BATCH];
	size_t			 nwarn;
	struct esc_item		 esc[URGENT_BATCH];
	size_t			 nesc;
	int64_t			 dw, rd;	/* the settings, ns */
	int64_t			 now;		/* of the commit */
	int			 more;		/* cut short by a bound */
};

static struct event	*urgent_ev;
static int64_t		 armed_at;	/* when the timer fires; 0 = unset */
static int		 stepping;	/* a step's commit is pending */
/* the warning pass: where to go on, the earliest warning due so far, and
 * the earliest one noted since the pass began */
static uint8_t		 resume_key[OUTQ_KEY_MAX];
static size_t		 resume_len;	/* 0 = a new pass begins */
static int64_t		 pass_next;
static int64_t		 noted_next;

/* ------------------------------------------------------------ helpers */

void
urgent_age(int64_t ns, char *buf, size_t len)
{
	static const struct {
		int64_t	 secs;
		char	 unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	int64_t	 s, v, w;
	size_t	 i;

	if (ns < 0)
		ns = 0;
	if (ns < 1000 * NS_PER_MS) {
		snprintf(buf, len, "%lldms", (long long)(ns / NS_PER_MS));
		return;
	}
	s = ns / (1000 * NS_PER_MS);
	for (i = 0; units[i].secs > s; i++)
		;
	v = s / units[i].secs;
	if (i + 1 < sizeof(units) / sizeof(units[0]) &&
	    (w = s % units[i].secs / units[i + 1].secs) != 0)
		snprintf(buf, len, "%lld%c%lld%c", (long long)v, units[i].unit,
		    (long long)w, units[i + 1].unit);
	else
		snprintf(buf, len, "%lld%c", (long long)v, units[i].unit);
}

static int64_t
min_due(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* kv - a new "NAME=value" string for the hook's environment */
static char *
kv(const char *name, const char *value)
{
	size_t	 len = strlen(name) + 1 + strlen(value) + 1;
	char	*s = xmalloc(len);

	snprintf(s, len, "%s=%s", name, value);
	return s;
}

static void
kv_free(char **env)
{
	for (size_t i = 0; env[i] != NULL; i++)
		free(env[i]);
}

static const char *
state_word(int state)
{
	return state == COMITY__STATE__STATE_SENT ? "sent" : "queued";
}

/* ------------------------------------------------------------ timer */

static void	step_begin(void);

/* Set the timer for AT (ns since the epoch; 0 = nothing waits). */
static void
arm(int64_t at)
{
	if (urgent_ev == NULL || cd->stopping)
		return;
	evtimer_del(urgent_ev);
	/* nothing due: look again after the longest sleep */
	armed_at = timer_at(urgent_ev, at > 0 ? at : INT64_MAX,
	    URGENT_SLEEP_MAX_MS);
}

static void
note(int64_t at)
{
	/* a step under way sets the timer when it is done */
	if (stepping || (armed_at != 0 && armed_at <= at))
		return;
	arm(at);
}

static void
urgent_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	armed_at = 0;
	if (stepping || cd->stopping)
		return;
	step_begin();
}

void
urgent_init(void)
{
	if ((urgent_ev = evtimer_new(cd->base, urgent_cb, NULL)) == NULL)
		fatalx("cannot create the urgent timer");
	resume_len = 0;
	pass_next = noted_next = 0;
	arm(now_ns());
}

void
urgent_note_submitted(int64_t submitted_ns)
{
	int64_t	at = submitted_ns +
	    (int64_t)cd->conf->delivery_warning_ms * NS_PER_MS;

	noted_next = min_due(noted_next, at);
	note(at);
}

void
urgent_note_received(int64_t received_ns)
{
	note(received_ns + (int64_t)cd->conf->retrieve_deadline_ms *
	    NS_PER_MS);
}

void
urgent_stop(void)
{
	if (urgent_ev != NULL) {
		event_free(urgent_ev);
		urgent_ev = NULL;
	}
	armed_at = 0;
}

/* ------------------------------------------------------------ index */

int
urgent_index_put(struct store_txn *t, int64_t received_ns,
    const uint8_t *inkey, size_t klen)
{
	uint8_t	key[URGQ_KEY_MAX];

	if (klen < INKEY_MIN || klen > INKEY_MAX)
		return COMITY_EINTERNAL;
	store_u64be(key, received_ns > 0 ? (uint64_t)received_ns : 0);
	memcpy(key + 8, inkey, klen);
	return store_put(t, DB_URGQ, key, 8 + klen, NULL, 0);
}

/* ------------------------------------------------------------ scans */

enum warn_verdict { W_SKIP, W_YOUNG, W_LATER, W_DUE };

/*
 * warn_verdict - whether the outbox item IT needs a warning now; *due is
 * when it next does (W_YOUNG, W_LATER).
 */
static enum warn_verdict
warn_verdict(const Comity__OutItem *it, int64_t now, int64_t dw,
    int64_t *due)
{
	int64_t	last;

	if (it->envelope->kind != COMITY__ENVELOPE_KIND__KIND_REQUEST ||
	    it->envelope->priority != COMITY__PRIORITY__PRIORITY_URGENT ||
	    (it->state != COMITY__STATE__STATE_QUEUED &&
	    it->state != COMITY__STATE__STATE_SENT))
		return W_SKIP;
	if ((*due = it->times->submitted_at + dw) > now)
		return W_YOUNG;
	last = it->times->warned_at > it->times->submitted_at ?
	    it->times->warned_at : it->times->submitted_at;
	*due = last + dw;
	return *due > now ? W_LATER : W_DUE;
}

static Comity__OutItem *
out_get(struct store_txn *t, const uint8_t id[ENVELOPE_ID_LEN], int *rc)
{
	Comity__OutItem	*it;
	const void	*v;
	size_t		 vl;

	if ((*rc = store_get(t, DB_OUT, id, ENVELOPE_ID_LEN, &v, &vl)) != 0)
		return NULL;
	it = wire_unpack(&comity__out_item__descriptor, v, vl);
	if (it == NULL || it->envelope == NULL || it->times == NULL ||
	    it->meta == NULL) {
		wire_free(it);
		*rc = COMITY_ECORRUPT;
		return NULL;
	}
	return it;
}

static Comity__InItem *
in_get(struct store_txn *t, const uint8_t *key, size_t klen, int *rc)
{
	Comity__InItem	*it;
	const void	*v;
	size_t		 vl;

	if ((*rc = store_get(t, DB_IN, key, klen, &v, &vl)) != 0)
		return NULL;
	it = wire_unpack(&comity__in_item__descriptor, v, vl);
	if (it == NULL || it->envelope == NULL || it->times == NULL ||
	    it->meta == NULL) {
		wire_free(it);
		*rc = COMITY_ECORRUPT;
		return NULL;
	}
	return it;
}

/* outq_peer - the peer of DB_OUTQ key K: its length, or 0 if malformed */
static size_t
outq_peer(const uint8_t *k, size_t kl)
{
	const uint8_t	*z;
	size_t		 plen;

	z = memchr(k, '\0', kl < ID_MAX + 1 ? kl : ID_MAX + 1);
	if (z == NULL || (plen = (size_t)(z - k)) == 0 || kl != plen + 2 + 8)
		return 0;
	return plen;
}

/*
 * scan_warnings - go on with the warning pass in T: collect the items
 * due into ST, note when the others fall due, spend at most *BUDGET
 * index entries and seeks.  Returns 1 when the pass is complete, 0 when
 * it was cut short (resume_key says where to go on).
 */
static int
scan_warnings(struct store_txn *t, struct step *st, int64_t now,
    size_t *budget)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, plen;
	uint8_t			 seek[OUTQ_KEY_MAX];
	int			 rc, complete = 0;

	if (store_cursor_open(t, DB_OUTQ, &c) != 0) {
		st->more = 1;
		return 0;
	}
	rc = store_cursor_seek(c, resume_len ? resume_key : NULL, resume_len,
	    &k, &kl, &v, &vl);
	for (;;) {
		Comity__OutItem		*it;
		enum warn_verdict	 w;
		int64_t			 due = 0;
		int			 r;

		if (rc != 0) {
			complete = 1;	/* the end of the queue */
			break;
		}
		if (*budget == 0 || st->nwarn == URGENT_BATCH) {
			/* go on from here next time */
			memcpy(resume_key, k, kl < OUTQ_KEY_MAX ? kl :
			    OUTQ_KEY_MAX);
			resume_len = kl < OUTQ_KEY_MAX ? kl : OUTQ_KEY_MAX;
			break;
		}
		(*budget)--;
		if ((plen = outq_peer(k, kl)) == 0) {
			rc = store_cursor_next(c, &k, &kl, &v, &vl);
			continue;
		}
		if (((const uint8_t *)k)[plen + 1] != OUTQ_URGENT) {
			/* past this peer's urgent class: to the next peer */
			memcpy(seek, k, plen + 1);
			seek[plen + 1] = 0xff;
			rc = store_cursor_seek(c, seek, plen + 2, &k, &kl, &v,
			    &vl);
			continue;
		}
		it = vl == ENVELOPE_ID_LEN ? out_get(t, v, &r) : NULL;
		w = it != NULL ? warn_verdict(it, now, st->dw, &due) : W_SKIP;
		wire_free(it);
		if (w == W_DUE) {
			struct warn_item *wi = &st->warn[st->nwarn++];

			memcpy(wi->id, v, ENVELOPE_ID_LEN);
			memcpy(wi->peer, k, plen);
			wi->peer[plen] = '\0';
			due = now + st->dw;	/* its next one */
		}
		if (w != W_SKIP)
			pass_next = min_due(pass_next, due);
		if (w == W_YOUNG) {
			/* the rest of this class is younger still */
			memcpy(seek, k, plen + 1);
			seek[plen + 1] = 0xff;
			rc = store_cursor_seek(c, seek, plen + 2, &k, &kl, &v,
			    &vl);
			continue;
		}
		rc = store_cursor_next(c, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	if (!complete)
		st->more = 1;
	return complete;
}

/*
 * scan_escalations - collect into ST the DB_URGQ entries due, at most
 * *BUDGET of them looked at; *next is when the first one not due yet
 * falls due (0: none).
 */
static void
scan_escalations(struct store_txn *t, struct step *st, int64_t now,
    size_t *budget, int64_t *next)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl;
	int			 rc;

	*next = 0;
	if (store_cursor_open(t, DB_URGQ, &c) != 0) {
		st->more = 1;
		return;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		struct esc_item	*e;
		Comity__InItem	*it;
		int64_t		 at;
		int		 r;

		if (*budget == 0 || st->nesc == URGENT_BATCH) {
			st->more = 1;
			break;
		}
		(*budget)--;
		at = kl >= 8 ? (int64_t)store_get_u64be(k) : 0;
		if (kl >= 8 + INKEY_MIN && kl <= URGQ_KEY_MAX &&
		    at + st->rd > now) {
			*next = at + st->rd;
			break;
		}
		e = &st->esc[st->nesc++];
		e->key = xmemdup(k, kl);
		e->klen = kl;
		if (kl < 8 + INKEY_MIN || kl > URGQ_KEY_MAX) {
			e->drop = e->bad = 1;
			continue;
		}
		memcpy(e->id, (const uint8_t *)k + 8, ENVELOPE_ID_LEN);
		memcpy(e->from, (const uint8_t *)k + 8 + ENVELOPE_ID_LEN,
		    kl - 8 - ENVELOPE_ID_LEN);
		e->from[kl - 8 - ENVELOPE_ID_LEN] = '\0';
		it = in_get(t, (const uint8_t *)k + 8, kl - 8, &r);
		if (it == NULL || it->state != COMITY__STATE__STATE_RECEIVED ||
		    it->times->escalated_at != 0) {
			/* retrieved in time (or gone): no escalation */
			e->drop = 1;
			wire_free(it);
			continue;
		}
		e->type = it->meta->type;
		e->case_ref = xstrdup(it->meta->case_ref != NULL ?
		    it->meta->case_ref : "");
		e->received_at = it->times->received_at;
		wire_free(it);
	}
	store_cursor_close(c);
}

/* ------------------------------------------------------------ commit */

static int
warn_apply(struct store_txn *t, struct step *st, struct warn_item *w)
{
	Comity__OutItem	*it;
	uint8_t		*buf;
	size_t		 len;
	int64_t		 due;
	char		 detail[128], age[32];
	int		 rc;

	if ((it = out_get(t, w->id, &rc)) == NULL)
		return rc == COMITY_ENOTFOUND || rc == COMITY_ECORRUPT ? 0 : rc;
	if (warn_verdict(it, st->now, st->dw, &due) != W_DUE) {
		wire_free(it);
		return 0;	/* delivered (or warned about) meanwhile */
	}
	it->times->warned_at = st->now;
	if ((buf = wire_pack(&it->base, 0, &len)) == NULL)
		fatalx("out of memory");
	rc = store_put(t, DB_OUT, w->id, ENVELOPE_ID_LEN, buf, len);
	free(buf);
	if (rc == 0) {
		urgent_age(st->now - it->times->submitted_at, age, sizeof(age));
		snprintf(detail, sizeof(detail), "undelivered for %s: state=%s "
		    "attempts=%u", age, state_word(it->state), it->attempts);
		rc = audit_append(t, AUDIT_WARNING, w->id, w->peer,
		    AUDIT_NO_UID, detail, st->now);
	}
	if (rc == 0) {
		w->done = 1;
		w->type = it->meta->type;
		w->state = it->state;
		w->attempts = it->attempts;
		w->submitted_at = it->times->submitted_at;
		free(w->case_ref);
		w->case_ref = xstrdup(it->meta->case_ref != NULL ?
		    it->meta->case_ref : "");
	}
	wire_free(it);
	return rc;
}

static int
esc_apply(struct store_txn *t, struct step *st, struct esc_item *e)
{
	Comity__InItem	*it;
	uint8_t		*buf;
	size_t		 len;
	char		 detail[QUEUE_ERR_MAX + 128], dl[32], nid[33];
	int		 rc;

	if (e->bad)
		return store_quarantine(t, DB_URGQ, e->key, e->klen);
	rc = store_del(t, DB_URGQ, e->key, e->klen);
	if (rc != 0 && rc != COMITY_ENOTFOUND)
		return rc;
	if (e->drop)
		return 0;
	if ((it = in_get(t, e->key + 8, e->klen - 8, &rc)) == NULL)
		return rc == COMITY_ENOTFOUND || rc == COMITY_ECORRUPT ? 0 : rc;
	if (it->state != COMITY__STATE__STATE_RECEIVED ||
	    it->times->escalated_at != 0) {
		wire_free(it);
		return 0;	/* retrieved meanwhile */
	}
	it->times->escalated_at = st->now;
	if ((buf = wire_pack(&it->base, 0, &len)) == NULL)
		fatalx("out of memory");
	rc = store_put(t, DB_IN, e->key + 8, e->klen - 8, buf, len);
	free(buf);
	wire_free(it);
	if (rc == 0 && e->notice != NULL)
		rc = queue_notice_apply(t, e->notice);
	if (rc != 0)
		return rc;
	urgent_age(st->rd, dl, sizeof(dl));
	if (e->notice != NULL) {
		wire_id_hex(queue_notice_id(e->notice), nid);
		snprintf(detail, sizeof(detail), "not retrieved within %s: "
		    "notice %s queued to %s", dl, nid, e->from);
	} else
		snprintf(detail, sizeof(detail), "not retrieved within %s: no "
		    "notice to %s: %s", dl, e->from, e->why);
	if ((rc = audit_append(t, AUDIT_ESCALATED, e->id, e->from,
	    AUDIT_NO_UID, detail, st->now)) == 0)
		e->done = 1;
	return rc;
}

static int
step_apply(struct store_txn *t, void *arg)
{
	struct step	*st = arg;
	size_t		 i;
	int		 rc = 0;

	/* a replay after the map grew starts afresh */
	st->now = now_ns();
	for (i = 0; i < st->nwarn; i++)
		st->warn[i].done = 0;
	for (i = 0; i < st->nesc; i++)
		st->esc[i].done = 0;
	/* stopping: nothing now, the next start does it (no hook runs then) */
	if (cd->stopping)
		return 0;
	for (i = 0; i < st->nwarn && rc == 0; i++)
		rc = warn_apply(t, st, &st->warn[i]);
	for (i = 0; i < st->nesc && rc == 0; i++)
		rc = esc_apply(t, st, &st->esc[i]);
	return rc;
}

/* warned - after the commit: tell of warning W */
static void
warned(const struct step *st, const struct warn_item *w)
{
	const struct dir_entry	*e = directory_find(cd->dir, w->peer);
	const char		*proc = e != NULL && e->urgent != NULL ?
				    e->urgent : "";
	char			 h[33], age[32], at[HOOK_TIME_LEN];
	char			 detail[96 + ID_MAX];
	char			*env[9];

	wire_id_hex(w->id, h);
	urgent_age(st->now - w->submitted_at, age, sizeof(age));
	log_warnx("%s undelivered warning peer=%s age=%s state=%s "
	    "attempts=%u", h, w->peer, age, state_word(w->state),
	    w->attempts);
	snprintf(detail, sizeof(detail), "urgent request undelivered for %s "
	    "to %s", age, w->peer);
	notify_id(COMITY__WATCH_KIND__WATCH_WARNING, w->id, detail,
	    proc[0] != '\0' ? proc : NULL);
	hook_time(w->submitted_at, at);
	env[0] = kv("COMITY_WARNING", "undelivered");
	env[1] = kv("COMITY_ID", h);
	env[2] = kv("COMITY_TO", w->peer);
	env[3] = kv("COMITY_TYPE", type_name(w->type));
	env[4] = kv("COMITY_CASE", w->case_ref);
	env[5] = kv("COMITY_PRIORITY", "urgent");
	env[6] = kv("COMITY_SUBMITTED_AT", at);
	env[7] = kv("COMITY_PROCEDURE", proc);
	env[8] = NULL;
	hook_run("undelivered", w->id, w->peer, (const char *const *)env);
	kv_free(env);
}

/* escalated - after the commit: tell of escalation E */
static void
escalated(const struct step *st, const struct esc_item *e)
{
	char	 h[33], nid[33], age[32], dl[32], at[HOOK_TIME_LEN];
	char	 detail[96 + ID_MAX];
	char	*env[8];

	wire_id_hex(e->id, h);
	urgent_age(st->now - e->received_at, age, sizeof(age));
	urgent_age(st->rd, dl, sizeof(dl));
	if (e->notice != NULL) {
		wire_id_hex(queue_notice_id(e->notice), nid);
		log_warnx("%s escalated from=%s age=%s: not retrieved within "
		    "%s, notice %s to the sender", h, e->from, age, dl, nid);
	} else
		log_warnx("%s escalated from=%s age=%s: not retrieved within "
		    "%s, no notice to the sender: %s", h, e->from, age, dl,
		    e->why);
	snprintf(detail, sizeof(detail), "urgent request from %s not "
	    "retrieved within %s", e->from, dl);
	notify_id(COMITY__WATCH_KIND__WATCH_ESCALATION, e->id, detail, NULL);
	hook_time(e->received_at, at);
	env[0] = kv("COMITY_ESCALATION", "1");
	env[1] = kv("COMITY_ID", h);
	env[2] = kv("COMITY_FROM", e->from);
	env[3] = kv("COMITY_TYPE", type_name(e->type));
	env[4] = kv("COMITY_CASE", e->case_ref != NULL ? e->case_ref : "");
	env[5] = kv("COMITY_PRIORITY", "urgent");
	env[6] = kv("COMITY_RECEIVED_AT", at);
	env[7] = NULL;
	hook_run("escalation", e->id, e->from, (const char *const *)env);
	kv_free(env);
}

static void
step_free(struct step *st, int rc)
{
	size_t	i;

	for (i = 0; i < st->nwarn; i++)
		free(st->warn[i].case_ref);
	for (i = 0; i < st->nesc; i++) {
		queue_notice_done(st->esc[i].notice, rc == 0 &&
		    st->esc[i].done ? 0 : COMITY_EAGAIN);
		free(st->esc[i].case_ref);
		free(st->esc[i].key);
	}
	free(st);
}

static void
step_done(void *arg, int rc)
{
	struct step	*st = arg;
	size_t		 i, n = 0;
	int		 more = st->more;

	stepping = 0;
	if (rc != 0) {
		log_warnx("urgent: commit failed (error %d), trying again in "
		    "%dms", rc, URGENT_RETRY_MS);
		step_free(st, rc);
		arm(now_ns() + URGENT_RETRY_MS * NS_PER_MS);
		return;
	}
	for (i = 0; i < st->nwarn; i++)
		if (st->warn[i].done) {
			warned(st, &st->warn[i]);
			n++;
		}
	for (i = 0; i < st->nesc; i++) {
		if (st->esc[i].done)
			escalated(st, &st->esc[i]);
		if (st->esc[i].done || st->esc[i].drop)
			n++;		/* the index moved on */
	}
	step_free(st, rc);
	/* look again at once: what is left, and when the rest falls due */
	arm(now_ns() + (n > 0 ? 0 : more ? URGENT_CONTINUE_MS * NS_PER_MS :
	    URGENT_RETRY_MS * NS_PER_MS));
}

/* seal - the escalation notices of ST, outside any transaction */
static void
seal_notices(struct step *st)
{
	char	 h[33], dl[32], subject[128];
	size_t	 i;

	urgent_age(st->rd, dl, sizeof(dl));
	for (i = 0; i < st->nesc; i++) {
		struct esc_item *e = &st->esc[i];

		if (e->drop)
			continue;
		wire_id_hex(e->id, h);
		snprintf(subject, sizeof(subject), "Escalation: urgent request "
		    "%s not retrieved within %s", h, dl);
		e->notice = queue_notice_new(e->from, e->id, subject,
		    e->case_ref, e->why, sizeof(e->why));
		if (e->notice == NULL)
			log_warnx("%s escalation: no notice to %s: %s", h,
			    e->from, e->why);
	}
}

static void
step_begin(void)
{
	struct store_txn	*t;
	struct step		*st;
	size_t			 budget = URGENT_SCAN_MAX;
	int64_t			 now = now_ns(), next_esc = 0, next;
	int			 complete = 0;

	st = xcalloc(1, sizeof(*st));
	st->dw = (int64_t)cd->conf->delivery_warning_ms * NS_PER_MS;
	st->rd = (int64_t)cd->conf->retrieve_deadline_ms * NS_PER_MS;
	if (store_read_begin(cd->store, &t) != 0) {
		free(st);
		arm(now + URGENT_RETRY_MS * NS_PER_MS);
		return;
	}
	if (resume_len == 0)
		noted_next = 0;		/* the new pass sees what was noted */
	complete = scan_warnings(t, st, now, &budget);
	scan_escalations(t, st, now, &budget, &next_esc);
	store_read_end(t);

	if (complete) {
		next = min_due(pass_next, noted_next);
		resume_len = 0;
		pass_next = noted_next = 0;
	} else
		next = now + URGENT_CONTINUE_MS * NS_PER_MS;
	next = min_due(next, next_esc);
	if (st->nwarn == 0 && st->nesc == 0) {
		free(st);
		arm(next);
		return;
	}
	seal_notices(st);
	stepping = 1;
	store_batch_add(cd->store, step_apply, step_done, st);
}
