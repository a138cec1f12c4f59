/*
 * bounds.h - every protocol and resource bound of comityd, in one place.
 *
 * A length, count or size read from a peer, a local client, a file or the
 * store is checked against one of these before it is used.  Configurable
 * bounds have their default and their hard range here.
 */
#ifndef COMITY_BOUNDS_H
#define COMITY_BOUNDS_H

#define COMITY_VERSION_STRING	"comity/0.1.0"
#define COMITY_ALPN		"comity/1"

/* Authority ids: ^[A-Z]{2}-[A-Z0-9][A-Z0-9-]{0,31}$ */
#define ID_MAX			35
#define ID_URI_PREFIX		"urn:comity:authority:"
#define ENVELOPE_ID_LEN		16
#define SHA256_LEN		32

/* Frames (peer and local socket). */
#define FRAME_HDR_LEN		4
#define FRAME_MAX_DEFAULT	(16u << 20)
#define FRAME_MAX_MIN		(64u << 10)
#define FRAME_MAX_MAX		(256u << 20)
/* Unpacking may allocate at most this many times the frame length (+ slack). */
#define DECODE_BUDGET_FACTOR	4
#define DECODE_BUDGET_SLACK	(64u << 10)
#define LOCAL_FRAME_MAX		FRAME_MAX_MAX

/* Request contents. */
#define DOCS_MAX		256
#define DOC_NAME_MAX		255
#define MEDIA_TYPE_MAX		127
#define TEXT_FIELD_MAX		1024	/* case ref, basis, subject, language */
#define IDEM_KEY_MAX		128
#define REASON_MAX		256

/* Connections. */
#define MAX_CONNECTIONS_DEFAULT	1024
#define MAX_UNAUTH_CONNECTIONS	64	/* connections still in handshake */
#define HANDSHAKE_TIMEOUT_DEFAULT_MS	10000
#define IDLE_TIMEOUT_DEFAULT_MS		300000
#define KEEPALIVE_FRACTION	3	/* send a Hello-ping after idle/3 */
#define WINDOW_DEFAULT		256
#define WINDOW_MAX		4096
/* Urgent envelopes may be in flight beyond the window by this many: an
 * urgent one never waits for a full window of normal ones to drain. */
#define URGENT_WINDOW		16
/* Bytes of normal envelopes in flight per link, about: the receiver holds
 * them in memory while it opens and stores them. */
#define WINDOW_BYTES		(8u << 20)
/* What a receiver holds of one link's envelopes being opened and stored
 * before it stops reading it (plus the last envelope read): a sender past
 * its window waits. */
#define PENDING_BYTES_MAX	(4 * WINDOW_BYTES)
#define WORK_THREADS_MAX	16	/* crypto threads of one daemon */
#define LINK_OUTPUT_MAX		(FRAME_MAX_MAX + (1u << 20))
/*
 * Bytes a link reads and writes per turn of the event loop.  libevent's
 * defaults (4 KiB read by a TLS bufferevent, 16 KiB written) cap a busy
 * link at a few receipts or envelopes per turn, whatever the loop does
 * meanwhile.  The read watermark is raised to a whole frame while a frame
 * larger than LINK_READ_CHUNK arrives.
 */
#define LINK_READ_CHUNK		(128u << 10)
#define LINK_WRITE_CHUNK	(256u << 10)
#define LOCAL_READ_CHUNK	(256u << 10)
#define LOCAL_MAX_CLIENTS	256
#define LOCAL_OUTPUT_MAX	(64u << 20)
/* Unsent events a watcher may have before it is dropped: thousands of
 * events (one is 0.1-1.5 KiB), and at most LOCAL_MAX_CLIENTS MiB in all. */
#define LOCAL_WATCH_OUTPUT_MAX	(1u << 20)
/* Watchers hold their connection: leave a quarter of the clients to
 * requests. */
#define LOCAL_MAX_WATCHERS	(LOCAL_MAX_CLIENTS * 3 / 4)
#define LIST_PAGE_MAX		1000
#define LIST_PAGE_DEFAULT	200
/* Requests in one local batch submit: the answer holds a result for each;
 * they commit in a few group commits (BATCH_MAX_OPS). */
#define SUBMIT_BATCH_MAX	256
/* Audit export pages (audit.h): records, stored bytes, records looked at
 * (a filter matching little still answers within a few ms). */
#define AUDIT_PAGE_MAX		1000
#define AUDIT_PAGE_DEFAULT	500
#define AUDIT_PAGE_BYTES	(1u << 20)
#define AUDIT_SCAN_MAX		65536
/* Log records a listing looks at per page (queue_list()): each is a
 * lookup and a decode, so a filter matching little answers within a few
 * ms and the client asks again after the page's next_seq. */
#define LIST_SCAN_MAX		2048

/* Retry back-off. */
#define RETRY_INITIAL_DEFAULT_MS	1000
#define RETRY_MAX_DEFAULT_MS		300000
#define TRYLATER_DEFAULT_MS		2000

/* Expiry (queue.c, expiry.c). */
#define EXPIRY_BATCH		256	/* expiry index entries per commit */
#define EXPIRY_SKIP_MAX		1024	/* expired items one send pick passes */
#define EXPIRY_RECHECK_MS	1000	/* in flight at expiry: look again */
#define EXPIRY_SLEEP_MAX_MS	60000	/* the timer's longest sleep */
#define EXPIRY_RETRY_MS		1000	/* after a failed commit */

/* Non-delivery warnings and escalations (urgent.c). */
#define URGENT_SCAN_MAX		1024	/* index entries looked at per step */
#define URGENT_BATCH		16	/* warnings, escalations per commit */
#define URGENT_SLEEP_MAX_MS	60000	/* the timer's longest sleep */
#define URGENT_RETRY_MS		1000	/* after a failed commit */
#define URGENT_CONTINUE_MS	10	/* after a step cut short by a bound */

/* Store. */
#define MAP_SIZE_DEFAULT	(1ull << 30)
#define MAP_SIZE_MIN		(1ull << 20)
#define STORE_MAX_DBS		16
/* Operations per group commit, and what a commit under load waits for
 * (store.c): the loop reads links between two commits, so one commit's
 * work is what an urgent step may wait for.  16 moved bulk as fast as 64
 * did, and halved the tail of urgent requests crossing a saturated link;
 * 8 cost a sixth of bulk's rate. */
#define BATCH_MAX_OPS		16

/* Urgent hook. */
#define HOOK_RUNNING_MAX	16	/* at once; a run beyond is skipped */
#define HOOK_ENV_MAX		16	/* variables given, besides PATH */
#define HOOK_NAME_MAX		64	/* bytes of a variable's name */
#define HOOK_VALUE_MAX		TEXT_FIELD_MAX	/* bytes of a value */
#define HOOK_TIMEOUT_DEFAULT_MS	30000
#define HOOK_STOP_WAIT_MS	2000	/* reaping killed hooks at stop */

/* Config. */
#define CONF_LINE_MAX		190	/* libinih 55 splits longer lines */
#define DIRECTORY_MAX		4096	/* authorities in the directory */

#endif /* COMITY_BOUNDS_H */
