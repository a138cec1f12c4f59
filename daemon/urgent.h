/*
 * urgent.h - what happens to an urgent request that stays undelivered or
 * unread (SPEC §6): the sender's non-delivery warnings and the
 * recipient's escalation.
 *
 * Sender: an urgent request still QUEUED or SENT [urgent]
 * delivery_warning after its submission is warned about: Times.warned_at
 * and an AUDIT_WARNING record commit together, then a log line, a
 * WATCH_WARNING event carrying the counterpart's urgent procedure from
 * the directory, and the hook (why "undelivered", COMITY_WARNING=
 * undelivered).  The warning repeats every delivery_warning while the
 * request stays undelivered.  warned_at is durable: a restart neither
 * repeats a warning early nor skips one that is due.  The index is the
 * outbox's urgent send queue (DB_OUTQ class 0, in submission order): a
 * step walks each counterpart's urgent class and stops at the first
 * request too young to warn about.
 *
 * Recipient: an urgent request still RECEIVED [urgent] retrieve_deadline
 * after its arrival is escalated, once: Times.escalated_at, an
 * AUDIT_ESCALATED record and a NOTICE to the sender (queue_notice_*) in
 * one transaction, then a log line, a WATCH_ESCALATION event and the hook
 * again (why "escalation", COMITY_ESCALATION=1).  DB_URGQ indexes urgent
 * arrivals by arrival time (queue.c writes the entry with the inbox
 * item); an entry goes when its item is escalated, or when it falls due
 * and the item was retrieved meanwhile, so the index holds about one
 * retrieve_deadline's worth of urgent arrivals.
 *
 * Notices are neither warned about nor escalated.  One libevent timer
 * serves both sides, set for the next thing due and never more than
 * URGENT_SLEEP_MAX_MS away (a changed delivery_warning or
 * retrieve_deadline applies within that).  A step looks at no more than
 * URGENT_SCAN_MAX index entries and acts on at most URGENT_BATCH items of
 * each kind in one commit, however many are queued; it goes on shortly
 * after when it was cut short.  Besides its own index, this module writes
 * only warned_at and escalated_at, always with their audit record.
 */
#ifndef COMITY_URGENT_H
#define COMITY_URGENT_H

#include <stddef.h>
#include <stdint.h>

struct store_txn;

/* urgent_init - after queue_init(): set the timer */
void	urgent_init(void);

/* urgent_stop - at stop: no further step; one committing changes nothing
 * and is taken again after the restart */
void	urgent_stop(void);

/* urgent_note_submitted - an urgent request was committed at
 * SUBMITTED_NS: make sure the timer fires by its first warning */
void	urgent_note_submitted(int64_t submitted_ns);

/* urgent_note_received - an urgent request was stored at RECEIVED_NS:
 * make sure the timer fires by its retrieve deadline */
void	urgent_note_received(int64_t received_ns);

/*
 * urgent_index_put - in the caller's write transaction, index the urgent
 * inbox request stored at DB_IN key INKEY (id || from, KLEN bytes) at
 * RECEIVED_NS for its escalation.  Returns 0 or COMITY_E*.
 */
int	urgent_index_put(struct store_txn *, int64_t received_ns,
	    const uint8_t *inkey, size_t klen);

/* urgent_age - a duration in ns as people read it: "850ms", "45s",
 * "5m12s", "30m", "2h5m", "3d4h" (two units at most) */
void	urgent_age(int64_t ns, char *buf, size_t len);

#endif /* COMITY_URGENT_H */
