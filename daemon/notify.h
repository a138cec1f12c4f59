/*
 * notify.h - events for local watchers (SPEC §6, §8 `watch`).
 *
 * The queue and the timers call notify_*() after the commit that made an
 * event true; notify hands it to every subscribed local client (local.c)
 * whose filter matches.  Delivery is best effort and never blocks: a
 * watcher whose output backs up past LOCAL_WATCH_OUTPUT_MAX is sent a
 * WATCH_DROPPED event and disconnected.  Nothing here writes to the store.
 */
#ifndef COMITY_NOTIFY_H
#define COMITY_NOTIFY_H

#include "comity.pb-c.h"

/*
 * notify - publish an event of KIND (Comity__WatchKind) about ITEM
 * (borrowed; may be NULL), with a one-line DETAIL and, for warnings, the
 * counterpart's urgent PROCEDURE (either may be NULL).
 */
void	notify(int kind, const Comity__ItemInfo *item, const char *detail,
	    const char *procedure);

/* notify_id - the same, for item ID, looked up in the store (inbox
 * or outbox) after the commit; does nothing when no one watches */
void	notify_id(int kind, const uint8_t id[16], const char *detail,
	    const char *procedure);

/*
 * notify_frame - the frame (header included) of a LocalResponse carrying
 * that event, stamped now, for local.c's own SUBSCRIBED and DROPPED
 * events.  Caller frees; NULL if it would exceed LOCAL_FRAME_MAX.
 */
uint8_t	*notify_frame(int kind, const Comity__ItemInfo *item,
	    const char *detail, const char *procedure, size_t *len);

#endif /* COMITY_NOTIFY_H */
