/*
 * directory.h - the counterpart directory: who we talk to and how.
 *
 * One INI section per authority id (see comityd.conf.5).  Loading checks
 * every entry: a valid id, endpoint host:port, a readable certificate
 * whose single URI SAN is urn:comity:authority:<id>, an optional pin of
 * 64 hex digits, request types from the known set.  The directory may
 * list our own authority (its `accepts` then says what we accept).
 * A loaded directory is immutable; reload builds a new one and swaps.
 */
#ifndef COMITY_DIRECTORY_H
#define COMITY_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define DIR_TYPES_MAX	8

struct dir_entry {
	char		*id;
	char		*name;
	char		*host;		/* from endpoint */
	char		*port;
	char		*endpoint;	/* as written */
	char		*cert_path;
	X509		*cert;		/* owned by the entry */
	int		 has_pin;
	unsigned char	 pin[32];	/* SHA-256 of the DER SubjectPublicKeyInfo */
	uint32_t	 accepts;	/* bit (1u << RequestType value) */
	char		*accepts_text;	/* as written, normalised */
	char		*languages;
	char		*timezone;
	char		*hours;
	char		*urgent;
};

struct directory {
	struct dir_entry	*entries;	/* sorted by id */
	size_t			 n;
};

/*
 * directory_load - parse FILE (relative cert paths resolved against it).
 * Returns NULL with "file:line: reason" in err.  Free with
 * directory_free().
 */
struct directory	*directory_load(const char *file, char *err, size_t errlen);
void			 directory_free(struct directory *);
/* directory_find - entry for ID or NULL (borrowed, valid while the
 * directory lives) */
const struct dir_entry	*directory_find(const struct directory *, const char *id);

/* id_valid - ^[A-Z]{2}-[A-Z0-9][A-Z0-9-]{0,31}$ over exactly len bytes */
int			 id_valid(const char *id, size_t len);
/* type_from_name - "mla", "extradition", "confiscation",
 * "transfer" (or "transfer_of_sentenced_persons"), "joint_investigation"
 * (or "jit"), "other" -> RequestType value; -1 if unknown */
int			 type_from_name(const char *name);
/* type_name - RequestType value -> lower-case name above ("unspecified"
 * for 0 or unknown) */
const char		*type_name(int type);

#endif /* COMITY_DIRECTORY_H */
