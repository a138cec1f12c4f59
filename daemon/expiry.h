/*
 * expiry.h - the expiry timer: outbox items not delivered by their
 * expires_at become EXPIRED (SPEC §5).
 *
 * The store keeps an index of when to look at which outbox item
 * (DB_EXPQ, in time order, written by queue.c in the submit's own
 * transaction).  This module keeps one libevent timer set for the first
 * entry (never more than EXPIRY_SLEEP_MAX_MS away, so that a step of the
 * wall clock is noticed); when it fires, queue_expire_due() handles at
 * most EXPIRY_BATCH due entries in one commit and the timer is set again
 * from the index.  The cost is one index seek per wake-up and a bounded
 * batch per commit, however many items are queued.  One step at a time;
 * nothing here touches the store itself.
 */
#ifndef COMITY_EXPIRY_H
#define COMITY_EXPIRY_H

#include <stdint.h>

/* expiry_init - after queue_init(): set the timer from the index */
void	expiry_init(void);

/* expiry_note - an item now expires at AT_NS (ns since the epoch): make
 * sure the timer fires by then */
void	expiry_note(int64_t at_ns);

/* expiry_kick - an item is past its expiry now: take a step soon */
void	expiry_kick(void);

/* expiry_stop - at stop: no further step (one committing may finish) */
void	expiry_stop(void);

#endif /* COMITY_EXPIRY_H */
