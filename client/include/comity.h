/*
 * comity.h - libcomity, the client library of the comity daemon.
 *
 * (This header is being completed: the error set below is final and
 * shared with comityd; the API section follows.)
 */
#ifndef COMITY_H
#define COMITY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
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

#ifdef __cplusplus
}
#endif
#endif /* COMITY_H */
