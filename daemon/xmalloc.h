/*
 * xmalloc.h - allocation for the daemon: out of memory is fatal.
 *
 * libcomity never uses these (it returns COMITY_ENOMEM instead).
 */
#ifndef COMITY_XMALLOC_H
#define COMITY_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
/* xfree_secret - wipe len bytes, then free (NULL is a no-op) */
void	 xfree_secret(void *, size_t len);

#endif /* COMITY_XMALLOC_H */
