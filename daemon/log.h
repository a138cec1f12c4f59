/*
 * log.h - the daemon's logging: stderr lines "comityd[pid]: level: text".
 *
 * Operational lines lead with the object id, then key=value pairs.  Never
 * log secrets or content: ids, peers, sizes, reasons and states only.
 * errno is preserved by every function here.  fatal()/fatalx() exit 1
 * (EX_SOFTWARE-class failures go through them; a broken store exits 75).
 */
#ifndef COMITY_LOG_H
#define COMITY_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* log_init - set the program name and level (messages above it are dropped) */
void	log_init(const char *progname, int level);
/* log_setlevel - change the level at run time */
void	log_setlevel(int level);
int	log_getlevel(void);
/* log_parse_level - "error|warn|info|debug" -> level, or -1 */
int	log_parse_level(const char *s);

/* log_set_hook - tests: called with (level, formatted line) before output */
void	log_set_hook(void (*hook)(int level, const char *line));

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* fatal_exit - log at error level and exit with the given status */
void	fatal_exit(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif /* COMITY_LOG_H */
