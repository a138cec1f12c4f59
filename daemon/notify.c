/*
 * notify.c - events for local watchers (see notify.h).
 *
 * An event is encoded once, as the frame every watcher receives, and
 * handed to local.c, which keeps the watchers and their bounded output.
 * The filter is the watcher's only choice: all events, or only those
 * about urgent items (events about no item, such as SUBSCRIBED and
 * DROPPED, reach every watcher).
 */
#include <stdint.h>
#include <stdlib.h>

#include "bounds.h"
#include "comityd.h"
#include "local.h"
#include "log.h"
#include "notify.h"
#include "queue.h"
#include "wire.h"

static const char *
kind_name(int kind)
{
	switch (kind) {
	case COMITY__WATCH_KIND__WATCH_ARRIVED:		return "arrived";
	case COMITY__WATCH_KIND__WATCH_STATE:		return "state";
	case COMITY__WATCH_KIND__WATCH_WARNING:		return "warning";
	case COMITY__WATCH_KIND__WATCH_ESCALATION:	return "escalation";
	case COMITY__WATCH_KIND__WATCH_NOTICE:		return "notice";
	case COMITY__WATCH_KIND__WATCH_DROPPED:		return "dropped";
	case COMITY__WATCH_KIND__WATCH_SUBSCRIBED:	return "subscribed";
	default:					return "unknown";
	}
}

uint8_t *
notify_frame(int kind, const Comity__ItemInfo *item, const char *detail,
    const char *procedure, size_t *len)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT;
	Comity__WatchEvent	 ev = COMITY__WATCH_EVENT__INIT;
	uint8_t			*buf;

	ev.kind = (Comity__WatchKind)kind;
	/* the message is only read: protobuf-c packs through const */
	ev.item = (Comity__ItemInfo *)(uintptr_t)item;
	ev.at_ns = now_ns();
	ev.detail = (char *)(uintptr_t)(detail != NULL ? detail : "");
	ev.procedure = (char *)(uintptr_t)(procedure != NULL ? procedure :
	    "");
	resp.event = &ev;
	if (protobuf_c_message_get_packed_size(&resp.base) > LOCAL_FRAME_MAX) {
		log_warnx("watch event %s above %u bytes: not sent",
		    kind_name(kind), (unsigned)LOCAL_FRAME_MAX);
		return NULL;
	}
	if ((buf = wire_pack(&resp.base, 1, len)) == NULL)
		fatalx("notify: out of memory packing an event");
	return buf;
}

void
notify(int kind, const Comity__ItemInfo *item, const char *detail,
    const char *procedure)
{
	uint8_t	*frame;
	size_t	 len;
	char	 h[33] = "-";

	if (!local_watching())
		return;
	if ((frame = notify_frame(kind, item, detail, procedure, &len)) ==
	    NULL)
		return;
	if (item != NULL && item->id.len == ENVELOPE_ID_LEN)
		wire_id_hex(item->id.data, h);
	log_debug("%s watch event %s", h, kind_name(kind));
	local_publish(frame, len, item == NULL ||
	    item->priority == COMITY__PRIORITY__PRIORITY_URGENT);
	free(frame);
}

void
notify_id(int kind, const uint8_t id[16], const char *detail,
    const char *procedure)
{
	Comity__ItemInfo	*info = NULL;
	char			 h[33];
	int			 rc;

	if (!local_watching())
		return;
	if ((rc = queue_status(id, &info)) != 0) {
		wire_id_hex(id, h);
		log_warnx("%s watch event %s not sent: cannot read the item "
		    "(rc=%d)", h, kind_name(kind), rc);
		return;
	}
	notify(kind, info, detail, procedure);
	queue_info_free(info);
}
