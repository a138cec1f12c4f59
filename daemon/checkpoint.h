/*
 * checkpoint.h - signed checkpoints of the audit trail (RELIABILITY §5):
 * the head, signed by the authority key as CMS SignedData, recorded as a
 * CHECKPOINT audit event; every [audit] checkpoint_interval and on demand
 * (`comity audit checkpoint`).
 */
#ifndef COMITY_CHECKPOINT_H
#define COMITY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Called once the checkpoint is committed: rc 0 with the DER (borrowed,
 * valid during the call), or COMITY_E* with the reason. */
typedef void	(*checkpoint_done_fn)(void *arg, int rc, const uint8_t *der,
		    size_t len, const char *err);

/* checkpoint_init - start the periodic timer (after queue_init) */
void	checkpoint_init(void);

/* checkpoint_now - take a checkpoint in the next write batch; DONE (may
 * be NULL) is called after the commit */
void	checkpoint_now(checkpoint_done_fn done, void *arg);

#endif /* COMITY_CHECKPOINT_H */
