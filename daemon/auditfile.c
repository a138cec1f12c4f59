/*
 * auditfile.c - the offline verifier: the store's LMDB environment opened
 * read-only by a process other than the daemon (see auditfile.h).
 *
 * It reads two named databases, "meta" and "audit" (store.c's names for
 * DB_META and DB_AUDIT), and nothing else; it never writes, so it cannot
 * disturb a running daemon or a copy under examination.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "auditfile.h"
#include "bounds.h"
#include "comity.h"

#define DBNAME_META	"meta"
#define DBNAME_AUDIT	"audit"

static int
open_err(int mrc, const char *dir, char *err, size_t errlen)
{
	switch (mrc) {
	case EACCES:
	case EPERM:
		snprintf(err, errlen, "%s: %s (the reader needs to write the "
		    "lock file: run as the daemon's user, or verify a copy)",
		    dir, mdb_strerror(mrc));
		return COMITY_EPERM;
	case ENOENT:
		snprintf(err, errlen, "%s: no store here", dir);
		return COMITY_ENOTFOUND;
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		snprintf(err, errlen, "%s: store unreadable: %s", dir,
		    mdb_strerror(mrc));
		return COMITY_ECORRUPT;
	default:
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(mrc));
		return COMITY_EIO;
	}
}

/* walk - the chain in TXN into RES */
static int
walk(MDB_txn *txn, MDB_dbi meta, MDB_dbi audit,
    const struct audit_witness *witness, X509_STORE *trust,
    struct audit_result *res, const char *dir, char *err, size_t errlen)
{
	struct audit_walk	 w;
	unsigned char		 genesis[AUDIT_HASH_LEN];
	MDB_cursor		*c;
	MDB_stat		 st;
	MDB_val			 k, v, hk, hv;
	int			 mrc, rc;

	k.mv_data = (void *)AUDIT_GENESIS_KEY;
	k.mv_size = strlen(AUDIT_GENESIS_KEY);
	hk.mv_data = (void *)AUDIT_HEAD_KEY;
	hk.mv_size = strlen(AUDIT_HEAD_KEY);
	if ((mrc = mdb_get(txn, meta, &k, &v)) == MDB_NOTFOUND) {
		/* never initialised: intact if there is nothing at all */
		if ((mrc = mdb_stat(txn, audit, &st)) != 0)
			return open_err(mrc, dir, err, errlen);
		if (st.ms_entries == 0 &&
		    mdb_get(txn, meta, &hk, &hv) == MDB_NOTFOUND &&
		    (witness == NULL || witness->seq == 0)) {
			memset(res, 0, sizeof(*res));
			res->ok = 1;
			return 0;
		}
		return audit_result_fail(res, 0, "genesis missing");
	}
	if (mrc != 0)
		return open_err(mrc, dir, err, errlen);
	if ((rc = audit_chain_genesis(v.mv_data, v.mv_size, genesis)) != 0) {
		if (rc == COMITY_ECORRUPT)
			audit_result_fail(res, 0, "genesis unreadable");
		return rc;
	}
	if ((rc = audit_walk_begin(&w, genesis, witness, res)) != 0)
		return rc;
	audit_walk_authority(&w, v.mv_data, v.mv_size);
	w.trust = trust;
	if ((mrc = mdb_cursor_open(txn, audit, &c)) != 0)
		return open_err(mrc, dir, err, errlen);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = audit_walk_step(&w, k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size)) != 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	if (mrc != MDB_NOTFOUND) {
		rc = open_err(mrc, dir, err, errlen);
		if (rc == COMITY_ECORRUPT)
			audit_result_fail(res, w.next, err);
		return rc;
	}
	mrc = mdb_get(txn, meta, &hk, &hv);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return open_err(mrc, dir, err, errlen);
	return audit_walk_end(&w, mrc == 0 ? hv.mv_data : NULL,
	    mrc == 0 ? hv.mv_size : 0);
}

int
audit_verify_dir(const char *dir, const struct audit_witness *witness,
    struct audit_result *res, char *err, size_t errlen)
{
	return audit_verify_dir_trust(dir, witness, NULL, res, err, errlen);
}

int
audit_verify_dir_trust(const char *dir, const struct audit_witness *witness,
    X509_STORE *trust, struct audit_result *res, char *err, size_t errlen)
{
	MDB_env		*env = NULL;
	MDB_txn		*txn = NULL;
	MDB_dbi		 meta, audit;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 mrc, rc;

	memset(res, 0, sizeof(*res));
	if (errlen > 0)
		err[0] = '\0';
	if (stat(dir, &st) == -1)
		return open_err(errno, dir, err, errlen);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory (give the store "
		    "directory, [store] path)", dir);
		return COMITY_EINVAL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return COMITY_EINVAL;
	}
	if (stat(path, &st) == -1)
		return open_err(errno, dir, err, errlen);
	if ((mrc = mdb_env_create(&env)) != 0)
		return open_err(mrc, dir, err, errlen);
	if ((mrc = mdb_env_set_maxdbs(env, STORE_MAX_DBS)) != 0 ||
	    (mrc = mdb_env_open(env, dir, MDB_RDONLY, 0)) != 0 ||
	    (mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		rc = open_err(mrc, dir, err, errlen);
		goto out;
	}
	if ((mrc = mdb_dbi_open(txn, DBNAME_META, 0, &meta)) != 0 ||
	    (mrc = mdb_dbi_open(txn, DBNAME_AUDIT, 0, &audit)) != 0) {
		if (mrc == MDB_NOTFOUND) {
			snprintf(err, errlen, "%s: not a comity store (no "
			    "audit trail)", dir);
			rc = COMITY_ENOTFOUND;
		} else
			rc = open_err(mrc, dir, err, errlen);
		goto out;
	}
	rc = walk(txn, meta, audit, witness, trust, res, dir, err, errlen);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}
