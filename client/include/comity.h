/*
 * comity.h - libcomity, the client library of the comity daemon.
 */
/**
 * @mainpage libcomity
 *
 * libcomity is the small blocking C API through which local tools talk to
 * comityd, the daemon that exchanges sealed requests for mutual legal
 * assistance, extradition, confiscation and the transfer of sentenced
 * persons with counterpart authorities.  The `comity` command is built on
 * it and nothing else.
 *
 * A tool connects to the daemon's Unix socket with comity_connect(), calls
 * any number of operations on the connection, and closes it with
 * comity_close():
 *
 *  - comity_submit() queues a request to a counterpart; it returns only
 *    after the daemon has committed it durably; comity_submit_batch()
 *    queues many in one round trip, committed together;
 *  - comity_status(), comity_list() report outbox and inbox items;
 *  - comity_fetch() returns an arrived request with its documents and
 *    comity_ack() marks it retrieved (a signed RETRIEVED receipt then
 *    travels back to the sender);
 *  - comity_cancel() withdraws a request not yet delivered;
 *  - comity_receipt() exports a signed receipt (DER CMS SignedData) that
 *    stock `openssl cms -verify` checks; comity_sealed() exports a
 *    sealed request that the recipient opens with stock `openssl cms`;
 *  - comity_peers() and comity_directory() describe the counterparts;
 *  - comity_watch() streams events as they happen: arrivals, receipts and
 *    other state changes, warnings about urgent requests;
 *  - comity_audit_export() streams the daemon's hash-chained audit trail,
 *    comity_audit_verify() recomputes the chain, and comity_timeline()
 *    gives what is known of one request on both sides.
 *
 * @section conventions Conventions
 *
 * Every function returning @c int returns 0 (#COMITY_OK) on success or a
 * negative code of enum #comity_error; comity_strerror() names it and
 * comity_errmsg() gives the daemon's one-line reason for the last failure
 * on a connection.  Request ids are 32 lower-case hexadecimal digits
 * (16 bytes); functions taking one accept either case.  Times are
 * nanoseconds since the Unix epoch (UTC); 0 means "not (yet)".
 *
 * @section ownership Memory
 *
 * Strings and arrays passed in are borrowed for the duration of the call.
 * What a function returns is owned by the caller and freed with the
 * function its documentation names (comity_free() or
 * comity_request_free()).  Items given to a comity_list() callback are
 * borrowed and valid only during that callback.  The library allocates
 * with malloc(3) and reports exhaustion as #COMITY_ENOMEM; it never exits,
 * never prints and never raises SIGPIPE.
 *
 * @section threads Threads
 *
 * A connection carries one request at a time, strictly in order: it may be
 * used by one thread at a time (callers serialise access themselves).
 * Distinct connections are independent and may be used from different
 * threads concurrently.  comity_strerror() and the name functions are
 * thread-safe.
 *
 * @section failures Transport failures
 *
 * Each call waits at most the connection's timeout (60 s by default,
 * comity_set_timeout()) for each read or write on the socket.  After
 * #COMITY_EIO, #COMITY_EPROTO or #COMITY_ETIMEDOUT the position in the
 * response stream is unknown: the connection is dead and every later call
 * on it fails with the same code.  Close it and connect again.  A submit
 * that failed this way may or may not have been committed: repeat it with
 * the same idempotency key to learn its id without creating a second
 * request.
 */
#ifndef COMITY_H
#define COMITY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public symbols; the library is built with hidden visibility. */
#if defined(__GNUC__)
#define COMITY_EXPORT	__attribute__((visibility("default")))
#else
#define COMITY_EXPORT
#endif

/**
 * @defgroup errors Error codes
 * Every function returns 0 on success or one of these negative codes.
 * The daemon uses the same set on the local socket.  Codes are never
 * renumbered; new ones are added at the end.
 * @{
 */
enum comity_error {
	COMITY_OK = 0,
	COMITY_EINVAL = -1,        /**< invalid argument or request */
	COMITY_ENOMEM = -2,        /**< out of memory */
	COMITY_EIO = -3,           /**< I/O error (socket, file) */
	COMITY_ESTOREFULL = -4,    /**< the daemon's store (disk or map) is full */
	COMITY_ENOTFOUND = -5,     /**< no such request */
	COMITY_ECONFLICT = -6,     /**< same id or key with other content */
	COMITY_ESTATE = -7,        /**< not possible in the item's current state */
	COMITY_EPROTO = -8,        /**< malformed message on the socket */
	COMITY_ECONNECT = -9,      /**< cannot reach the daemon's socket */
	COMITY_ETIMEDOUT = -10,    /**< no answer in time */
	COMITY_EUNKNOWNPEER = -11, /**< authority not in the directory */
	COMITY_ETOOBIG = -12,      /**< request larger than the configured limit */
	COMITY_EPERM = -13,        /**< not allowed */
	COMITY_EAGAIN = -14,       /**< temporary failure, try again later */
	COMITY_ECONFIG = -15,      /**< bad configuration */
	COMITY_ECRYPTO = -16,      /**< signature, seal or certificate failure */
	COMITY_ECORRUPT = -17,     /**< stored data failed its checks */
	COMITY_ETYPE = -18,        /**< request type not accepted by the counterpart */
	COMITY_EEXPIRED = -19,     /**< the request's expiry has passed */
	COMITY_EINTERNAL = -20,    /**< internal error (a bug: please report) */
};
/** @} */

/**
 * @defgroup values Types, states and names
 * The numeric values equal those of the daemon's protocol and never change.
 * @{
 */

/** Request types (what a counterpart accepts, see comity_directory()). */
enum comity_type {
	COMITY_TYPE_UNSPECIFIED = 0,
	COMITY_TYPE_MLA = 1,			/**< mutual legal assistance */
	COMITY_TYPE_EXTRADITION = 2,
	COMITY_TYPE_CONFISCATION = 3,
	COMITY_TYPE_TRANSFER = 4,		/**< of sentenced persons */
	COMITY_TYPE_JOINT_INVESTIGATION = 5,	/**< joint investigation team */
	COMITY_TYPE_OTHER = 6,
};

/** Life-cycle states.  Sender side: QUEUED, SENT, DELIVERED, RETRIEVED, or
 * REJECTED, EXPIRED, CANCELLED.  Receiver side: RECEIVED, RETRIEVED. */
enum comity_state {
	COMITY_STATE_ANY = 0,		/**< in filters: any state */
	COMITY_STATE_QUEUED = 1,
	COMITY_STATE_SENT = 2,
	COMITY_STATE_DELIVERED = 3,
	COMITY_STATE_RETRIEVED = 4,
	COMITY_STATE_REJECTED = 5,
	COMITY_STATE_EXPIRED = 6,
	COMITY_STATE_CANCELLED = 7,
	COMITY_STATE_RECEIVED = 8,
};

/** Which list an item belongs to. */
enum comity_box {
	COMITY_BOX_OUT = 0,		/**< sent by us */
	COMITY_BOX_IN = 1,		/**< received from a counterpart */
};

/** Priorities. */
enum comity_priority {
	COMITY_PRIORITY_NORMAL = 0,
	COMITY_PRIORITY_URGENT = 1,
};

/** What an item is (comity_item.kind). */
enum comity_item_kind {
	COMITY_KIND_REQUEST = 0,	/**< a request (or a reply to one) */
	COMITY_KIND_NOTICE = 1,		/**< a notice a daemon sent of itself,
					     e.g. an escalation: @c in_reply_to
					     names the request it is about */
};

/** Receipt kinds (comity_receipt()). */
enum comity_receipt_kind {
	COMITY_RECEIPT_DELIVERED = 1,	/**< delivered, or rejected, by the recipient */
	COMITY_RECEIPT_REJECTED = 2,	/**< the same receipt as DELIVERED asks for */
	COMITY_RECEIPT_RETRIEVED = 3,	/**< opened by the recipient's local tool */
};

/**
 * @brief Canonical lower-case name of a request type.
 * @param[in] type a #comity_type value.
 * @return "mla", "extradition", "confiscation", "transfer",
 * "joint_investigation", "other"; "unspecified" for anything else.
 * @note The string is static.
 */
COMITY_EXPORT const char *comity_type_name(int type);

/**
 * @brief Parse a request type name (as comity_type_name() returns, or
 * "transfer_of_sentenced_persons", "jit"; case-insensitive).
 * @param[in] name the name.
 * @return a #comity_type value above 0, or #COMITY_EINVAL.
 */
COMITY_EXPORT int comity_type_from_name(const char *name);

/**
 * @brief Upper-case name of a state ("QUEUED" ... "RECEIVED").
 * @param[in] state a #comity_state value.
 * @return the name; "UNKNOWN" for anything else.
 * @note The string is static.
 */
COMITY_EXPORT const char *comity_state_name(int state);

/**
 * @brief Parse a state name (either case).
 * @param[in] name the name.
 * @return a #comity_state value above 0, or #COMITY_EINVAL.
 */
COMITY_EXPORT int comity_state_from_name(const char *name);

/**
 * @brief A short English description of an error code.
 * @param[in] err 0 or a #comity_error code.
 * @return a static string ("unknown error" for codes not in the set).
 */
COMITY_EXPORT const char *comity_strerror(int err);
/** @} */

/**
 * @defgroup conn Connections
 * @{
 */

/** An open connection to comityd (opaque). */
typedef struct comity_conn comity_conn;

/** The socket used when neither a path nor $COMITY_SOCKET is given. */
#define COMITY_SOCKET_DEFAULT	"/run/comity/comity.sock"
/** The default per-read/per-write timeout, in milliseconds. */
#define COMITY_TIMEOUT_DEFAULT_MS	60000

/**
 * @brief Connect to the daemon.
 * @param[in] path the socket; NULL means $COMITY_SOCKET when set and not
 * empty, else #COMITY_SOCKET_DEFAULT.
 * @param[out] conn the new connection; NULL on failure.
 * @note Close the connection with comity_close().  On failure errno holds
 * the reason connect(2) gave.
 * @retval 0 connected.
 * @retval COMITY_EINVAL @p conn is NULL, or the path is empty or too long
 * for a Unix socket address.
 * @retval COMITY_ENOMEM out of memory.
 * @retval COMITY_EPERM the socket exists but we may not use it (not in its
 * group).
 * @retval COMITY_ECONNECT no daemon answers on the socket (missing file,
 * connection refused, or any other connect failure).
 */
COMITY_EXPORT int comity_connect(const char *path, comity_conn **conn);

/**
 * @brief Close a connection and free it.
 * @param[in] conn the connection; NULL is a no-op.
 */
COMITY_EXPORT void comity_close(comity_conn *conn);

/**
 * @brief Set the timeout of each read and write on the socket.
 * @param[in] conn the connection.
 * @param[in] ms milliseconds; 0 waits for ever.
 * @retval 0 done.
 * @retval COMITY_EINVAL @p conn is NULL.
 * @retval COMITY_EIO setsockopt(2) failed.
 */
COMITY_EXPORT int comity_set_timeout(comity_conn *conn, unsigned ms);

/**
 * @brief The reason of the last failure on @p conn: the daemon's one-line
 * message, or the library's own for local failures.
 * @param[in] conn the connection (NULL gives "").
 * @return a string, "" when there is none.
 * @note Borrowed: valid until the next call on @p conn.  Counterpart data
 * quoted in it is not sanitised: escape it before showing it raw.
 */
COMITY_EXPORT const char *comity_errmsg(const comity_conn *conn);

/**
 * @brief Free memory the library returned (items, peer and directory
 * arrays, receipt bytes).
 * @param[in] p the pointer; NULL is a no-op.
 */
COMITY_EXPORT void comity_free(void *p);
/** @} */

/**
 * @defgroup submit Submitting
 * @{
 */

/** One document of a request. */
struct comity_doc {
	const char	*name;		/**< file name, no directory part, <= 255 bytes */
	const char	*media_type;	/**< e.g. "application/pdf"; NULL = octet-stream */
	const uint8_t	*data;		/**< contents */
	size_t		 len;		/**< length of @c data */
};

/** What to submit.  NULL strings are sent as empty. */
struct comity_submit {
	const char	*to;		/**< recipient authority id, e.g. "KE-ODPP" */
	int		 type;		/**< a #comity_type above 0 */
	int		 urgent;	/**< non-zero: priority URGENT */
	const char	*case_ref;	/**< our case reference */
	const char	*basis;		/**< legal basis */
	const char	*lang;		/**< working language (BCP 47) */
	const char	*subject;
	const char	*reply_to;	/**< id (32 hex) this answers, or NULL */
	int64_t		 expires_at_ns;	/**< absolute; 0 = never */
	const char	*idempotency_key; /**< <= 128 bytes, or NULL */
	const struct comity_doc *docs;	/**< documents, in order */
	size_t		 ndocs;		/**< at most 256 */
	const char	*their_ref;	/**< the counterpart's case reference */
};

/**
 * @brief Queue a request to a counterpart.
 *
 * Returns once the daemon has committed the request durably; it is then
 * sent, retried and receipted by the daemon.  With an idempotency key the
 * daemon already knows, nothing new is created and the existing id is
 * returned with @p existed set.
 * @param[in] conn the connection.
 * @param[in] req what to send (borrowed for the call).
 * @param[out] id the request id: 32 lower-case hex digits and a NUL.
 * @param[out] existed set to 1 when the idempotency key was known, else
 * 0; may be NULL.
 * @retval 0 committed (or known).
 * @retval COMITY_EINVAL a bad argument (missing or invalid @c to, bad
 * @c reply_to, NULL document data) or a field the daemon refused.
 * @retval COMITY_ETOOBIG the request does not fit a frame, or exceeds the
 * daemon's limits.
 * @retval COMITY_EUNKNOWNPEER @c to is not in the directory.
 * @retval COMITY_ETYPE the counterpart does not accept @c type.
 * @retval COMITY_EEXPIRED @c expires_at_ns has passed.
 * @retval COMITY_ESTOREFULL the daemon's store is full; nothing stored.
 * @retval COMITY_EAGAIN the daemon is busy; try again.
 * @retval COMITY_ECONFLICT the idempotency key is bound to other content.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures; the outcome is then unknown.
 * @retval other a code the daemon returned (see comity_errmsg()).
 */
COMITY_EXPORT int comity_submit(comity_conn *conn,
    const struct comity_submit *req, char id[33], int *existed);

/** The most requests one comity_submit_batch() call may carry. */
#define COMITY_BATCH_MAX	256

/** The outcome of one request of a batch (comity_submit_batch()). */
struct comity_submit_result {
	int		 error;		/**< 0, or the #comity_error code that
					     comity_submit() would have returned
					     for this request */
	char		 id[33];	/**< error 0: the request id (32
					     lower-case hex digits); else "" */
	int		 existed;	/**< error 0: 1 when the idempotency key
					     was known, else 0 */
	char		 message[256];	/**< error != 0: the one-line reason
					     (control bytes shown as '?');
					     else "" */
};

/**
 * @brief Queue many requests in one round trip.
 *
 * Each request is checked and queued as comity_submit() would queue it,
 * and succeeds or fails on its own: one refused request (an unknown
 * counterpart, a type it does not accept, a bad argument) does not stop
 * the others.  The daemon commits the requests of a batch together, in
 * as few transactions and disk syncs as it can instead of one each, and
 * answers once every request is committed or refused; the outcome of
 * each is in @p results, in the order of @p reqs.  Idempotency keys work
 * as if the requests were submitted one after the other with
 * comity_submit(), within a batch too: of a key given twice, the first
 * creates the request and the second result has its id with @c existed
 * set.
 * @param[in] conn the connection.
 * @param[in] reqs the requests (borrowed for the call).
 * @param[in] n their number, 1 to #COMITY_BATCH_MAX.
 * @param[out] results the caller's array of @p n results, filled on
 * every return but #COMITY_EINVAL: on a failure of the whole call, each
 * result holds its code and reason.
 * @note Nothing is allocated for the caller.  A request with an invalid
 * argument (as comity_submit() checks them) is not sent: its result is
 * #COMITY_EINVAL with the reason.  The documents of all the requests
 * together must fit one frame of the local socket.
 * @retval 0 the batch was answered: every result holds its request's
 * outcome (some may have failed).
 * @retval COMITY_EINVAL @p conn, @p reqs or @p results is NULL, or @p n
 * is 0.
 * @retval COMITY_ETOOBIG @p n is above #COMITY_BATCH_MAX, or the batch
 * does not fit a frame; nothing was sent.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures; the outcome of each request is then unknown: repeat
 * the batch with the same idempotency keys to learn it.
 * @retval other a code the daemon returned for the whole batch (see
 * comity_errmsg()); nothing was queued.
 */
COMITY_EXPORT int comity_submit_batch(comity_conn *conn,
    const struct comity_submit *reqs, size_t n,
    struct comity_submit_result *results);
/** @} */

/**
 * @defgroup query Status and lists
 * @{
 */

/** One outbox or inbox item.  Strings are never NULL ("" when absent). */
struct comity_item {
	char		 id[33];	/**< 32 lower-case hex digits */
	int		 box;		/**< #comity_box */
	int		 state;		/**< #comity_state */
	const char	*from;		/**< sender authority id */
	const char	*to;		/**< recipient authority id */
	int		 priority;	/**< #comity_priority */
	int		 type;		/**< #comity_type */
	const char	*case_ref;	/**< the sender's case reference */
	int64_t		 submitted_at;	/**< per-state times, ns; 0 = not (yet) */
	int64_t		 sent_at;
	int64_t		 delivered_at;
	int64_t		 received_at;
	int64_t		 retrieved_at;
	int64_t		 rejected_at;
	int64_t		 expired_at;
	int64_t		 cancelled_at;
	int64_t		 expires_at;	/**< expiry, 0 = never */
	const char	*reason;	/**< why REJECTED/EXPIRED/CANCELLED */
	int		 has_delivered_receipt;
	int		 has_retrieved_receipt;
	uint64_t	 seq;		/**< position in its list */
	uint64_t	 body_size;	/**< sealed size in bytes */
	uint32_t	 documents;	/**< number of documents */
	int		 kind;		/**< #comity_item_kind */
	char		 in_reply_to[33]; /**< the id of the request this one
					     answers (a reply, a notice), ""
					     when none */
	int64_t		 warned_at;	/**< ours, urgent: the last warning that
					     it is still undelivered, 0 = none */
	int64_t		 escalated_at;	/**< theirs, urgent: when it was
					     escalated for not being retrieved
					     in time, 0 = not */
};

/**
 * @brief The state of one item (outbox first, then inbox).
 * @param[in] conn the connection.
 * @param[in] id the item's id (32 hex digits).
 * @param[out] item the item; free with comity_free() (one block: its
 * strings live inside it).
 * @retval 0 found.
 * @retval COMITY_EINVAL @p id is not 32 hex digits.
 * @retval COMITY_ENOTFOUND no such item.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_status(comity_conn *conn, const char *id,
    struct comity_item **item);

/** Filter of comity_list(); zero-initialise, then set what you need. */
struct comity_list_opts {
	int		 box;		/**< #COMITY_BOX_OUT or #COMITY_BOX_IN */
	int		 urgent_only;	/**< non-zero: urgent items only */
	int		 state;		/**< #comity_state; #COMITY_STATE_ANY = all */
	int64_t		 since_ns;	/**< submitted (out) / received (in) at or after */
	uint32_t	 page_size;	/**< items per round trip, at most 1000;
					     0 = the daemon's default (200) */
};

/**
 * @brief Called once per item by comity_list().
 * @param[in] item the item; borrowed, valid only during the call.
 * @param[in] arg the caller's argument.
 * @return 0 to go on; anything else stops the listing and comity_list()
 * returns that value.
 */
typedef int (*comity_item_cb)(const struct comity_item *item, void *arg);

/**
 * @brief Walk the outbox or the inbox in log order, fetching as many pages
 * as needed.
 *
 * The daemon looks at a bounded number of log records for each page (a
 * few thousand), so that a filter matching few items in a long log never
 * holds it for long; such a listing takes more round trips, some of them
 * bringing no item, and @p cb sees every match all the same.
 *
 * When @p cb returns non-zero, no further page is asked for and that value
 * is returned as it is (choose values that are not #comity_error codes to
 * tell them apart).
 * @param[in] conn the connection.
 * @param[in] opts the filter; NULL lists the whole outbox.
 * @param[in] cb called for each matching item, in order.
 * @param[in] arg passed to @p cb.
 * @retval 0 every item was given to @p cb.
 * @retval COMITY_EINVAL @p cb is NULL or @p opts is out of range.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures (#COMITY_EPROTO also when the daemon's paging does not
 * move forward).
 */
COMITY_EXPORT int comity_list(comity_conn *conn,
    const struct comity_list_opts *opts, comity_item_cb cb, void *arg);
/** @} */

/**
 * @defgroup fetch Fetching, acknowledging, cancelling, receipts
 * @{
 */

/** An opened request, as comity_fetch() returns it.  Strings are never
 * NULL. */
struct comity_request {
	char		 id[33];	/**< 32 hex digits */
	const char	*from;
	const char	*to;
	int		 priority;	/**< #comity_priority */
	int		 type;		/**< #comity_type */
	const char	*basis;		/**< legal basis */
	const char	*case_ref;	/**< the sender's case reference */
	const char	*their_ref;	/**< the recipient's case reference */
	char		 reply_to[33];	/**< id it answers, "" if none */
	const char	*lang;		/**< working language */
	const char	*subject;
	int64_t		 created_at;	/**< sender's clock, ns */
	int64_t		 expires_at;	/**< 0 = never */
	struct comity_doc *docs;	/**< the documents, in order */
	size_t		 ndocs;
	void		*priv;		/**< internal: owns the memory above */
};

/**
 * @brief Fetch a received request with its documents: the daemon decrypts
 * the sealed copy it stores and checks the sender's signature again.
 * @param[in] conn the connection.
 * @param[in] id the item's id.
 * @param[out] req the request; free with comity_request_free().
 * @note Document names come from the counterpart: check them before using
 * them as file names.  Fetching does not change the item's state; call
 * comity_ack() once the request is safely stored.
 * @retval 0 fetched.
 * @retval COMITY_EINVAL @p id is not 32 hex digits.
 * @retval COMITY_ENOTFOUND no such item.
 * @retval COMITY_EPERM an outbox item: sealed to its recipient, it cannot
 * be opened by the sender (comity_sealed() exports the sealed copy).
 * @retval COMITY_ECRYPTO the stored copy no longer opens (our key
 * changed, or the stored bytes were altered).
 * @retval COMITY_ECORRUPT the stored item failed its checks.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_fetch(comity_conn *conn, const char *id,
    struct comity_request **req);

/**
 * @brief Free a fetched request; its document contents are wiped first.
 * @param[in] req the request; NULL is a no-op.
 */
COMITY_EXPORT void comity_request_free(struct comity_request *req);

/**
 * @brief Mark an inbox item RETRIEVED; the daemon queues a signed
 * RETRIEVED receipt back to the sender in the same commit.  Acknowledging
 * it again succeeds and changes nothing.
 * @param[in] conn the connection.
 * @param[in] id the item's id.
 * @retval 0 committed.
 * @retval COMITY_EINVAL @p id is not 32 hex digits.
 * @retval COMITY_ENOTFOUND no such inbox item.
 * @retval COMITY_ESTOREFULL the store is full.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_ack(comity_conn *conn, const char *id);

/**
 * @brief Withdraw an outbox item that is not delivered yet.
 * @param[in] conn the connection.
 * @param[in] id the item's id.
 * @retval 0 committed: the item is CANCELLED.
 * @retval COMITY_EINVAL @p id is not 32 hex digits.
 * @retval COMITY_ENOTFOUND no such outbox item.
 * @retval COMITY_ESTATE too late: in flight, delivered or final.
 * @retval COMITY_ESTOREFULL the store is full.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_cancel(comity_conn *conn, const char *id);

/**
 * @brief Export a stored receipt: DER CMS SignedData, verifiable with
 * `openssl cms -verify -inform DER -CAfile ca.pem`.
 * @param[in] conn the connection.
 * @param[in] id the item's id.
 * @param[in] kind #COMITY_RECEIPT_DELIVERED (the DELIVERED or REJECTED
 * receipt) or #COMITY_RECEIPT_RETRIEVED.
 * @param[out] der the bytes; free with comity_free().
 * @param[out] len their length.
 * @retval 0 done.
 * @retval COMITY_EINVAL bad @p id or @p kind.
 * @retval COMITY_ENOTFOUND no such item, or no such receipt (yet).
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_receipt(comity_conn *conn, const char *id,
    int kind, uint8_t **der, size_t *len);

/**
 * @brief Export the sealed request as it travelled: DER CMS
 * AuthEnvelopedData (AES-256-GCM, to the recipient's key) around the
 * sender's SignedData.  The recipient opens it with stock openssl:
 * `openssl cms -decrypt -inform DER -recip cert.pem -inkey key.pem
 * -binary | openssl cms -verify -inform DER -CAfile ca.pem -binary`
 * gives the encoded Request.
 * @param[in] conn the connection.
 * @param[in] id an inbox or outbox item's id.
 * @param[out] der the bytes; free with comity_free().
 * @param[out] len their length.
 * @retval 0 done.
 * @retval COMITY_EINVAL bad @p id.
 * @retval COMITY_ENOTFOUND no such item.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_sealed(comity_conn *conn, const char *id,
    uint8_t **der, size_t *len);
/** @} */

/**
 * @defgroup peers Counterparts
 * @{
 */

/** The link to one counterpart.  Strings are never NULL. */
struct comity_peer {
	const char	*id;
	const char	*name;
	const char	*endpoint;	/**< host:port */
	int		 up;		/**< a link is established now */
	uint64_t	 queued;	/**< items waiting (envelopes + receipts) */
	uint64_t	 queued_urgent;
	uint64_t	 in_flight;	/**< sent, not receipted yet */
	int64_t		 oldest_queued_ns; /**< submit time of the oldest waiting item */
	int64_t		 oldest_urgent_ns; /**< the same, urgent items only */
	int64_t		 last_contact_ns; /**< last frame exchanged */
	int64_t		 last_delivery_ns; /**< last envelope or receipt exchanged */
	int64_t		 clock_skew_ns;	/**< peer clock minus ours, at Hello */
	int64_t		 next_attempt_ns; /**< next dial, 0 = none planned */
	const char	*last_error;	/**< "" when none */
	int64_t		 oldest_normal_ns; /**< the same, normal items only */
	int		 clock_skew_warning; /**< |skew| past the daemon's
					   [limits] skew_warning */
	uint64_t	 held_seq;	/**< their audit seq, carried in the newest
					   receipt they issued us; 0 = none */
	uint8_t		 held_head[32];	/**< their audit head at held_seq */
	int64_t		 held_at_ns;	/**< when we accepted that receipt */
	uint64_t	 given_seq;	/**< our audit seq, carried in the newest
					   receipt we issued them; 0 = none */
	uint8_t		 given_head[32]; /**< our audit head at given_seq */
	int64_t		 given_at_ns;	/**< when we issued that receipt */
};

/**
 * @brief Link state, queue depth, last contact and clock skew of every
 * counterpart.
 * @param[in] conn the connection.
 * @param[out] peers an array of @p n entries; free with comity_free() (one
 * block).  NULL when @p n is 0.
 * @param[out] n the number of entries.
 * @retval 0 done.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_peers(comity_conn *conn, struct comity_peer **peers,
    size_t *n);

/** One authority of the directory.  Strings are never NULL. */
struct comity_dir_entry {
	const char	*id;
	const char	*name;
	const char	*endpoint;
	const char	**accepts;	/**< request type names; none = any */
	size_t		 naccepts;
	const char	**languages;
	size_t		 nlanguages;
	const char	*timezone;
	const char	*hours;		/**< office hours */
	const char	*urgent;	/**< urgent contact procedure */
	const char	*pin;		/**< SPKI SHA-256 in hex, "" if none */
	int		 self;		/**< this entry is our own authority */
};

/**
 * @brief The counterpart directory the daemon uses.
 * @param[in] conn the connection.
 * @param[out] entries an array of @p n entries; free with comity_free()
 * (one block).  NULL when @p n is 0.
 * @param[out] n the number of entries.
 * @retval 0 done.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_directory(comity_conn *conn,
    struct comity_dir_entry **entries, size_t *n);
/** @} */

/**
 * @defgroup watch Watching events
 * @{
 */

/** What a watch event reports (comity_watch()). */
enum comity_event_kind {
	COMITY_EVENT_ARRIVED = 1,	/**< a request was stored in our inbox */
	COMITY_EVENT_STATE = 2,		/**< an item changed state: delivered,
					     rejected, retrieved, cancelled,
					     expired */
	COMITY_EVENT_WARNING = 3,	/**< ours, urgent, still not delivered:
					     @c procedure says whom to call */
	COMITY_EVENT_ESCALATION = 4,	/**< an urgent arrival still not
					     retrieved */
	COMITY_EVENT_NOTICE = 5,	/**< a counterpart's notice arrived */
	COMITY_EVENT_DROPPED = 6,	/**< the daemon drops this watcher (it
					     read too slowly); the last event */
	COMITY_EVENT_SUBSCRIBED = 7,	/**< the first event: the watch is live */
};

/** One event.  Strings are never NULL ("" when absent). */
struct comity_event {
	int		 kind;		/**< #comity_event_kind; a value not in
					     it comes from a newer daemon */
	struct comity_item item;	/**< the item concerned, as it is after
					     the event, when @c has_item */
	int		 has_item;	/**< 0 for SUBSCRIBED and DROPPED: @c item
					     is then zero with "" strings */
	int64_t		 at;		/**< when the daemon sent it, ns */
	const char	*detail;	/**< one line for people, e.g. "delivered" */
	const char	*procedure;	/**< WARNING: the counterpart's urgent
					     contact procedure */
};

/**
 * @brief Called once per event by comity_watch().
 * @param[in] ev the event; borrowed, valid only during the call.
 * @param[in] arg the caller's argument.
 * @return 0 to go on waiting; anything else ends the watch.
 */
typedef int (*comity_event_cb)(const struct comity_event *ev, void *arg);

/**
 * @brief Upper-case name of an event kind ("ARRIVED" ... "SUBSCRIBED").
 * @param[in] kind a #comity_event_kind value.
 * @return the name; "UNKNOWN" for anything else.
 * @note The string is static.
 */
COMITY_EXPORT const char *comity_event_name(int kind);

/**
 * @brief Subscribe to the daemon's events and receive them as they happen,
 * without polling, until @p cb asks to stop.
 *
 * The first event is #COMITY_EVENT_SUBSCRIBED: from then on nothing that
 * happens is missed, unless the watcher is dropped.  Events about items
 * carry the item as it is after the event.  The daemon never waits for a
 * watcher: one that leaves more than about a megabyte of events unread
 * (its callback is slow, or the process stopped) is dropped: it receives a
 * last #COMITY_EVENT_DROPPED event, given to @p cb like the others, and
 * comity_watch() returns #COMITY_EAGAIN.  Watch again, and use
 * comity_list() to catch up on what happened in between.
 *
 * The call blocks for as long as the watch lasts: reads wait for ever,
 * whatever comity_set_timeout() set, and a signal does not interrupt the
 * wait (a handler that must end it can exit the process).
 * @param[in] conn the connection.  It carries the watch alone: after the
 * call returns, whatever it returns, every other call on it fails with
 * #COMITY_EINVAL; close it and connect again.
 * @param[in] urgent_only non-zero: only events about urgent items (and
 * those about no item: SUBSCRIBED, DROPPED).
 * @param[in] cb called for each event, in order, in the calling thread;
 * it must not use @p conn (other connections are fine).
 * @param[in] arg passed to @p cb.
 * @note Event strings, like item strings, come partly from counterparts:
 * escape them before showing them raw.
 * @retval 0 @p cb returned non-zero.
 * @retval COMITY_EINVAL @p conn or @p cb is NULL, or @p conn carried a
 * watch already.
 * @retval COMITY_EAGAIN the daemon dropped this watcher (too slow) or has
 * too many watchers; comity_errmsg() says which.
 * @retval COMITY_EIO the daemon closed the connection (it stopped) or the
 * socket failed.
 * @retval COMITY_ENOMEM, COMITY_EPROTO, COMITY_ETIMEDOUT see
 * @ref failures (#COMITY_ETIMEDOUT only while subscribing).
 * @retval other a code the daemon returned (see comity_errmsg()).
 */
COMITY_EXPORT int comity_watch(comity_conn *conn, int urgent_only,
    comity_event_cb cb, void *arg);
/** @} */

/**
 * @defgroup audit Audit trail
 *
 * The daemon appends a record to its audit trail for every state change,
 * in the same commit: seq (from 1, no gaps), time, event, request id,
 * counterpart, local uid and a detail, each record chained to the one
 * before by SHA-256:
 *
 *     hash = SHA-256("comity-audit-v1\0" || u64be(seq) || i64be(time) ||
 *            u16be(event) || lp(message_id) || lp(peer) || u32be(uid) ||
 *            SHA-256(detail) || prev_hash),   lp(x) = u32be(len) || x
 *
 * where message_id is the 16 bytes of the id (or nothing) and record 1's
 * prev_hash derives from the authority id and the store's creation time.
 * An export therefore lets anyone recompute the chain; an edited, removed
 * or reordered record breaks it, and a head held elsewhere (a witness)
 * shows records removed from the end.
 * @{
 */

/** comity_audit_record.uid when no local user caused the event. */
#define COMITY_AUDIT_NO_UID	0xffffffffu

/** One audit record.  Strings are never NULL ("" when absent). */
struct comity_audit_record {
	uint64_t	 seq;		/**< position in the chain, from 1 */
	int64_t		 time;		/**< the daemon's clock, ns */
	int		 event;		/**< event number (never renumbered) */
	const char	*event_name;	/**< "SUBMITTED", "SENT", ... */
	char		 message_id[33]; /**< the request's id, "" when none */
	const char	*peer;		/**< the counterpart, "" when none */
	uint32_t	 uid;		/**< local user, or #COMITY_AUDIT_NO_UID */
	const char	*detail;	/**< one line for people */
	uint8_t		 prev_hash[32];	/**< the previous record's hash */
	uint8_t		 hash[32];	/**< this record's chain hash */
};

/** Filter of comity_audit_export(); zero-initialise, then set what you
 * need. */
struct comity_audit_filter {
	int64_t		 since_ns;	/**< records at or after, 0 = any */
	int64_t		 until_ns;	/**< records before, 0 = any */
	const char	*id;		/**< about this request only (32 hex), or
					     NULL */
	uint32_t	 page_size;	/**< records per round trip, at most 1000;
					     0 = the daemon's default (500) */
};

/**
 * @brief Called once per record by comity_audit_export().
 * @param[in] rec the record; borrowed, valid only during the call.
 * @param[in] arg the caller's argument.
 * @return 0 to go on; anything else stops the export and
 * comity_audit_export() returns that value.
 */
typedef int (*comity_audit_cb)(const struct comity_audit_record *rec,
    void *arg);

/**
 * @brief Stream the audit records that match @p filter, in seq order,
 * fetching page after page.
 *
 * Memory stays bounded whatever the length of the trail: one page (at
 * most 1000 records, about a megabyte) is held at a time.  Records are in
 * seq order, not sorted by time (the clock may have been set back between
 * two records); the time filter is applied to each record.  Each page is
 * one read transaction on the daemon: records appended during a long
 * export appear in a later page.
 * @param[in] conn the connection.
 * @param[in] filter what to export; NULL exports everything.
 * @param[in] cb called for each matching record, in order.
 * @param[in] arg passed to @p cb.
 * @note Details may quote counterpart data: escape them before showing
 * them raw.
 * @retval 0 every record was given to @p cb.
 * @retval COMITY_EINVAL @p cb is NULL or @p filter is out of range (a
 * negative time, a bad id, a page above 1000).
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures (#COMITY_EPROTO also when the daemon's paging does not
 * move forward).
 * @retval other what @p cb returned, or a code the daemon returned.
 */
COMITY_EXPORT int comity_audit_export(comity_conn *conn,
    const struct comity_audit_filter *filter, comity_audit_cb cb, void *arg);

/** A head held elsewhere: the chain must hold record @c seq with @c hash
 * (seq 0 names the genesis).  A counterpart's receipt carries one. */
struct comity_audit_witness {
	uint64_t	 seq;
	uint8_t		 hash[32];
};

/** The outcome of comity_audit_verify(). */
struct comity_audit_result {
	int		 ok;		/**< 1: the chain is intact */
	uint64_t	 count;		/**< records checked and found good */
	uint64_t	 bad_seq;	/**< not ok: the first bad record (0: the
					     genesis or the store itself) */
	char		 reason[256];	/**< not ok: why, one line */
	uint64_t	 head_seq;	/**< the stored head */
	uint8_t		 head_hash[32];
	int		 witnessed;	/**< a witness was given and found */
	uint64_t	 time_regressions; /**< records older than the one
					     before (the clock was set back):
					     allowed, but worth a look */
	uint64_t	 first_regression_seq; /**< the first of them, 0 = none */
	uint64_t	 checkpoints;	/**< signed checkpoints found good */
	uint64_t	 last_checkpoint_seq; /**< the seq the last one signs */
};

/**
 * @brief Recompute the whole audit chain on the daemon: contiguity from
 * seq 1, each record's link to the previous hash, each hash, and the
 * stored head; with @p witness, that the chain holds that record.
 *
 * The daemon walks the chain in one read transaction, about a
 * microsecond per record, during which it serves nothing else: run the
 * offline verifier (`comity audit verify --store`) on very long trails.
 * @param[in] conn the connection.
 * @param[in] witness a head held elsewhere, or NULL.
 * @param[out] result the outcome, filled whenever the walk ran.
 * @retval 0 the chain is intact (@c result->ok is 1).
 * @retval COMITY_ECORRUPT the chain is broken: @c result names the first
 * bad record and the reason (also in comity_errmsg()).
 * @retval COMITY_EINVAL @p conn or @p result is NULL.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 * @retval other a code the daemon returned (the store failed).
 */
COMITY_EXPORT int comity_audit_verify(comity_conn *conn,
    const struct comity_audit_witness *witness,
    struct comity_audit_result *result);

/**
 * @brief Have the daemon sign its audit head now: a checkpoint, recorded
 * as a CHECKPOINT event.
 * @param[in] conn the connection.
 * @param[out] der the DER CMS SignedData over the checkpoint text
 * ("comity-audit/<id>\n<seq>\n<base64 hash>\n<time_ns>\n"), which
 * `openssl cms -verify -inform DER` checks; free with free().
 * @param[out] len its length.
 * @retval 0 done.
 * @retval COMITY_EINVAL, COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO,
 * COMITY_ETIMEDOUT see @ref failures, or a code the daemon returned.
 */
COMITY_EXPORT int comity_audit_checkpoint(comity_conn *conn, uint8_t **der,
    size_t *len);

/** What is known of one request on both sides.  The counterpart's times
 * are by its clock, from the signed receipts we hold (see comity_peers()
 * for the skew between the clocks). */
struct comity_timeline {
	struct comity_item item;	/**< the item, as comity_status() gives */
	int64_t		 created_at;	/**< the envelope's creation, sender's
					     clock */
	int64_t		 peer_delivered_at; /**< ours: when the recipient
					     stored it, by its DELIVERED (or
					     REJECTED) receipt; 0 = no receipt */
	int		 peer_delivered_kind; /**< #COMITY_RECEIPT_DELIVERED or
					     #COMITY_RECEIPT_REJECTED */
	uint64_t	 peer_delivered_seq; /**< the recipient's audit seq in
					     that receipt */
	int64_t		 peer_retrieved_at; /**< ours: when its local tool
					     retrieved it, by its RETRIEVED
					     receipt; 0 = not (yet) */
	uint64_t	 peer_retrieved_seq;
};

/**
 * @brief One request and the counterpart's side of its life, for a
 * timeline; its audit records come from comity_audit_export() with
 * @c filter.id set.
 * @param[in] conn the connection.
 * @param[in] id the item's id (32 hex digits).
 * @param[out] timeline the result; free with comity_free() (one block).
 * @retval 0 found.
 * @retval COMITY_EINVAL @p id is not 32 hex digits.
 * @retval COMITY_ENOTFOUND no such item.
 * @retval COMITY_ENOMEM, COMITY_EIO, COMITY_EPROTO, COMITY_ETIMEDOUT
 * see @ref failures.
 */
COMITY_EXPORT int comity_timeline(comity_conn *conn, const char *id,
    struct comity_timeline **timeline);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* COMITY_H */
