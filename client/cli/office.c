/*
 * office.c - a counterpart's local time and office hours (see office.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hours.h"
#include "office.h"

#define NS_PER_S	INT64_C(1000000000)
#define TZDIR_DEFAULT	"/usr/share/zoneinfo"

/*
 * zone_path - the tz database file of ZONE into BUF, checked to be a
 * TZif file: glibc falls back to UTC without a word for a zone it cannot
 * read, so that must be found out here.
 */
static int
zone_path(const char *zone, char *buf, size_t len, char *err, size_t errlen)
{
	const char	*dir = getenv("TZDIR");
	char		 magic[4];
	int		 fd, n;

	if (!hours_zone_name_ok(zone)) {
		snprintf(err, errlen, "\"%.*s\" is not a time zone name",
		    HOURS_ZONE_MAX, zone);
		return -1;
	}
	if (dir == NULL || dir[0] != '/')
		dir = TZDIR_DEFAULT;
	n = snprintf(buf, len, "%s/%s", dir, zone);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "tz database path too long");
		return -1;
	}
	if ((fd = open(buf, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "time zone %s is not in the tz database "
		    "(%s)", zone, errno == ENOENT ? "no such zone" :
		    strerror(errno));
		return -1;
	}
	n = (int)read(fd, magic, sizeof(magic));
	close(fd);
	if (n != (int)sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		snprintf(err, errlen, "time zone %s: %s is not a tz database "
		    "file", zone, buf);
		return -1;
	}
	return 0;
}

int
office_local(const char *zone, int64_t at_ns, struct tm *tm, long *gmtoff,
    char *err, size_t errlen)
{
	char		 path[512], tzval[sizeof(path) + 1], *saved = NULL;
	const char	*old;
	time_t		 t;
	int64_t		 s;
	int		 ok;

	if (zone == NULL || zone[0] == '\0') {
		snprintf(err, errlen, "no time zone");
		return -1;
	}
	if (zone_path(zone, path, sizeof(path), err, errlen) != 0)
		return -1;
	if ((old = getenv("TZ")) != NULL && (saved = strdup(old)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s = at_ns / NS_PER_S;
	if (at_ns % NS_PER_S < 0)
		s--;
	t = (time_t)s;
	/* a leading ':' makes glibc read exactly this file */
	snprintf(tzval, sizeof(tzval), ":%s", path);
	ok = setenv("TZ", tzval, 1) == 0;
	if (ok) {
		tzset();
		ok = localtime_r(&t, tm) != NULL;
	}
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	if (!ok) {
		snprintf(err, errlen, "cannot convert the time to %s", zone);
		return -1;
	}
	*gmtoff = tm->tm_gmtoff;
	return 0;
}

void
office_eval(const char *zone, const char *hours, int64_t at_ns,
    struct office *o)
{
	struct hours	h;
	char		err[sizeof(o->why) - 16];

	memset(o, 0, sizeof(*o));
	o->state = OFFICE_UNKNOWN;
	if (zone != NULL && zone[0] != '\0') {
		if (office_local(zone, at_ns, &o->local, &o->gmtoff, err,
		    sizeof(err)) == 0)
			o->zone_known = 1;
		else
			snprintf(o->why, sizeof(o->why), "%s", err);
	} else
		snprintf(o->why, sizeof(o->why), "no time zone");
	if (hours == NULL || hours[0] == '\0') {
		snprintf(o->why, sizeof(o->why), "no office hours");
		return;
	}
	if (hours_parse(hours, &h, err, sizeof(err)) != 0) {
		snprintf(o->why, sizeof(o->why), "hours: %s", err);
		return;
	}
	if (!o->zone_known)
		return;
	o->state = hours_open_at(&h, o->local.tm_wday, o->local.tm_hour,
	    o->local.tm_min) ? OFFICE_OPEN : OFFICE_CLOSED;
}

void
office_fmt_offset(long gmtoff, char *buf, size_t len)
{
	long	a = gmtoff < 0 ? -gmtoff : gmtoff;

	/* real offsets are within +-26 h; the modulo keeps two digits */
	snprintf(buf, len, "%c%02d:%02d", gmtoff < 0 ? '-' : '+',
	    (int)(a / 3600 % 100), (int)(a % 3600 / 60));
}

void
office_fmt_clock(const struct tm *tm, char *buf, size_t len)
{
	static const char *const wd[7] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};

	snprintf(buf, len, "%s %02d:%02d",
	    tm->tm_wday >= 0 && tm->tm_wday < 7 ? wd[tm->tm_wday] : "?",
	    tm->tm_hour, tm->tm_min);
}

void
office_fmt_short(const struct tm *tm, long gmtoff, char *buf, size_t len)
{
	char	clock[32], off[16];

	office_fmt_clock(tm, clock, sizeof(clock));
	office_fmt_offset(gmtoff, off, sizeof(off));
	snprintf(buf, len, "%s %s", clock, off);
}

void
office_fmt_rfc3339(const struct tm *tm, long gmtoff, char *buf, size_t len)
{
	char	off[16];

	office_fmt_offset(gmtoff, off, sizeof(off));
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%s",
	    tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
	    tm->tm_min, tm->tm_sec, off);
}
