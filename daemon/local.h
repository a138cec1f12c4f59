/*
 * local.h - the local API server on the Unix socket.
 *
 * Local tools (libcomity, the comity CLI) connect to [client] socket
 * (mode 0660, group [client] group) and exchange frames: one
 * LocalRequest, one LocalResponse, any number of times per connection.
 * The caller's uid (SO_PEERCRED at connect) goes into the audit record of
 * what it does.  Frames are bounded like peer frames; a malformed one
 * gets an error response or a closed connection and a log line.  A
 * client that sends a WatchReq becomes a watcher: from then on it only
 * receives LocalResponse{event} frames (notify.h) and may send nothing.
 */
#ifndef COMITY_LOCAL_H
#define COMITY_LOCAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * local_listen - create the socket (replacing a stale one only if nothing
 * answers on it) and start accepting.  Returns 0, or -1 with the reason
 * in err.
 */
int	local_listen(char *err, size_t errlen);
/* local_close - stop accepting, drop clients, unlink the socket */
void	local_close(void);

/* local_watching - whether any client watches events now (notify.c) */
int	local_watching(void);
/*
 * local_publish - queue FRAME (LEN bytes: a framed LocalResponse{event},
 * borrowed) to every watcher, except those watching urgent items only
 * when URGENT is 0.  Never blocks: a watcher whose unsent events would
 * pass LOCAL_WATCH_OUTPUT_MAX gets a last DROPPED event and is closed
 * once its output is flushed (or its write times out).
 */
void	local_publish(const uint8_t *frame, size_t len, int urgent);

#endif /* COMITY_LOCAL_H */
