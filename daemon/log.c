/*
 * log.c - stderr logging with levels, errno preserved, a hook for tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_prog = "comityd";
static int		 log_level = LOG_LVL_INFO;
static void		(*log_hook)(int, const char *);

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_level = level;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_parse_level(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_set_hook(void (*hook)(int, const char *))
{
	log_hook = hook;
}

static void vlog(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 saved = errno;
	int	 n;

	if (level > log_level && log_hook == NULL) {
		errno = saved;
		return;
	}
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		snprintf(line, sizeof(line), "(unformattable log line)");
	if (with_errno) {
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(saved));
	}
	/* One line per record: a newline inside would forge a record. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_hook != NULL)
		log_hook(level, line);
	if (level <= log_level)
		fprintf(stderr, "%s[%d]: %s: %s\n", log_prog, (int)getpid(),
		    level_names[level], line);
	errno = saved;
}

#define LOGFN(name, level, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(level, with_errno, fmt, ap);		\
	va_end(ap);					\
}

LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_error, LOG_LVL_ERROR, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatal_exit(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(status);
}
