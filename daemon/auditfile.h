/*
 * auditfile.h - verify the audit trail of a store directory without the
 * daemon (`comity audit verify --store DIR`), for auditors and for a
 * store whose daemon is stopped.
 */
#ifndef COMITY_AUDITFILE_H
#define COMITY_AUDITFILE_H

#include <stddef.h>

#include "auditchain.h"

/*
 * audit_verify_dir - open the LMDB store in DIR read-only (MDB_RDONLY:
 * the daemon may keep running, LMDB readers do not block its writer) and
 * walk the whole chain in one read transaction, one snapshot, in constant
 * memory.  WITNESS may be NULL.  Returns 0 when intact, COMITY_ECORRUPT
 * when not (RES names the first bad record), or another COMITY_E* when
 * the store cannot be read (the reason in err).
 */
int	audit_verify_dir(const char *dir, const struct audit_witness *witness,
	    struct audit_result *res, char *err, size_t errlen);

/* audit_verify_dir_trust - the same; with TRUST (may be NULL) the signers
 * of checkpoints must chain to it */
int	audit_verify_dir_trust(const char *dir,
	    const struct audit_witness *witness, X509_STORE *trust,
	    struct audit_result *res, char *err, size_t errlen);

#endif /* COMITY_AUDITFILE_H */
