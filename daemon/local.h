/*
 * local.h - the local API server on the Unix socket.
 *
 * Local tools (libcomity, the comity CLI) connect to [client] socket
 * (mode 0660, group [client] group) and exchange frames: one
 * LocalRequest, one LocalResponse, any number of times per connection.
 * The caller's uid (SO_PEERCRED at connect) goes into the audit record of
 * what it does.  Frames are bounded like peer frames; a malformed one
 * gets an error response or a closed connection and a log line.
 */
#ifndef COMITY_LOCAL_H
#define COMITY_LOCAL_H

/*
 * local_listen - create the socket (replacing a stale one only if nothing
 * answers on it) and start accepting.  Returns 0, or -1 with the reason
 * in err.
 */
int	local_listen(char *err, size_t errlen);
/* local_close - stop accepting, drop clients, unlink the socket */
void	local_close(void);

#endif /* COMITY_LOCAL_H */
