/*
 * listen.h - the inbound TCP listener for peer links.
 *
 * Accepts on [listen] address and hands each socket to link_accept(),
 * which applies the connection caps.  When accept() fails for want of
 * file descriptors the listener pauses for a second instead of spinning.
 */
#ifndef COMITY_LISTEN_H
#define COMITY_LISTEN_H

#include <stddef.h>

/* listen_start - bind and listen; 0, or -1 with the reason in err */
int	listen_start(char *err, size_t errlen);
/* listen_stop - stop accepting (established links are not touched) */
void	listen_stop(void);

#endif /* COMITY_LISTEN_H */
