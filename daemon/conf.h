/*
 * conf.h - comityd.conf: parse, validate, hold.
 *
 * Owns the parsed configuration.  Parsing goes through libinih and one
 * schema table per section {key, type, default, min, max, offset}; an
 * unknown section or key, a bad or out-of-range value, a missing required
 * key or an over-long line is an error naming file:line.  Relative paths
 * are made relative to the directory of the config file.  Never opens the
 * store, never loads keys (tls does that).
 */
#ifndef COMITY_CONF_H
#define COMITY_CONF_H

#include <stddef.h>
#include <stdint.h>

struct conf {
	char		*path;			/* the config file as given */
	/* [authority] */
	char		*id;			/* required, valid authority id */
	char		*cert;			/* required, absolute path */
	char		*key;			/* required, absolute path */
	char		*ca;			/* required, absolute path */
	char		*crl;			/* NULL = none */
	char		*retired_key;		/* NULL = none; the key before
						   the last rotation */
	char		*directory;		/* required, absolute path */
	/* [listen] */
	char		*listen_host;		/* default "0.0.0.0" */
	char		*listen_port;		/* default "7443"; "0" refused */
	/* [store] */
	char		*store_path;		/* required, absolute: a directory */
	uint64_t	 map_size;		/* default 1G, min 1M */
	/* [client] */
	char		*socket;		/* required, absolute path */
	char		*group;			/* NULL = the daemon's own group */
	/* [urgent] */
	char		*hook;			/* NULL = none */
	uint64_t	 hook_timeout_ms;	/* default 30s, 1s..10m */
	uint64_t	 delivery_warning_ms;	/* default 5m */
	uint64_t	 retrieve_deadline_ms;	/* default 30m */
	/* [limits] */
	uint64_t	 max_frame;		/* default 16M, 64K..256M */
	uint64_t	 max_connections;	/* default 1024, 1..65536 */
	uint64_t	 handshake_timeout_ms;	/* default 10s, 100ms..10m */
	uint64_t	 idle_timeout_ms;	/* default 5m, 1s..1d */
	uint64_t	 window;		/* default 256, 1..4096 */
	uint64_t	 workers;		/* default 0 = one per CPU,
						   0..WORK_THREADS_MAX */
	uint64_t	 skew_warning_ms;	/* default 2s, 1ms..1d */
	/* [retry] */
	uint64_t	 retry_initial_ms;	/* default 1s, 10ms..1h */
	uint64_t	 retry_max_ms;		/* default 5m, >= initial, <= 1d */
	/* [audit] */
	uint64_t	 checkpoint_interval_ms;	/* default 1h, 0 = off */
	/* [log] */
	int		 log_level;		/* LOG_LVL_*, default info */
};

/*
 * conf_load - parse and validate FILE into a new struct conf.
 * Returns NULL with a one-line reason ("file:line: ...") in err.
 * The caller frees the result with conf_free().
 */
struct conf	*conf_load(const char *file, char *err, size_t errlen);
/* conf_free - free a struct conf (NULL is a no-op) */
void		 conf_free(struct conf *);

/*
 * conf_parse_duration - "250ms", "10s", "5m", "2h", "1d" (bare number =
 * seconds) -> milliseconds.  Returns 0, or -1 on a malformed or
 * overflowing value.
 */
int		 conf_parse_duration(const char *s, uint64_t *ms);
/* conf_parse_size - "4096", "64K", "16M", "1G" (powers of 1024) -> bytes */
int		 conf_parse_size(const char *s, uint64_t *bytes);
/*
 * conf_split_hostport - "host:port" or "[v6]:port" -> host, port strings
 * (written into the caller's buffers).  Returns 0, or -1 if malformed or
 * port is not 1..65535.
 */
int		 conf_split_hostport(const char *s, char *host, size_t hostlen,
		    char *port, size_t portlen);
/* conf_path_resolve - BASEFILE's directory + REL unless REL is absolute;
 * returns a new string (xmalloc'd) */
char		*conf_path_resolve(const char *basefile, const char *rel);
/* conf_check_lines - refuse a file with any line longer than
 * CONF_LINE_MAX bytes; returns 0 or -1 with "file:line: ..." in err */
int		 conf_check_lines(const char *file, char *err, size_t errlen);

#endif /* COMITY_CONF_H */
