/*
 * office.h - a counterpart's local time and whether its office is open,
 * for `comity directory` and the out-of-hours note of `comity submit
 * --urgent`.
 *
 * The local time comes from the system's tz database (tzdata; $TZDIR or
 * /usr/share/zoneinfo): TZ is pointed at the zone's file for one
 * localtime_r() call and then restored, which is sound in this
 * single-threaded program and would not be in a library.  Whether that
 * local minute is inside the office hours is hours.h's business.
 */
#ifndef COMITY_OFFICE_H
#define COMITY_OFFICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum office_state {
	OFFICE_UNKNOWN = -1,	/* no hours, no zone, or one is unreadable */
	OFFICE_CLOSED = 0,
	OFFICE_OPEN = 1
};

struct office {
	int		 zone_known;	/* local and gmtoff are valid */
	struct tm	 local;		/* the counterpart's local time */
	long		 gmtoff;	/* its offset east of UTC, seconds */
	int		 state;		/* enum office_state */
	char		 why[160];	/* why the state is unknown, or "" */
};

/*
 * office_local - the local time in ZONE (an IANA name) at AT_NS (ns since
 * the epoch, UTC) into *TM, with its UTC offset in *GMTOFF.  Returns 0,
 * or -1 with the reason in ERR (bad name, zone not in the tz database).
 */
int	office_local(const char *zone, int64_t at_ns, struct tm *tm,
	    long *gmtoff, char *err, size_t errlen);

/*
 * office_eval - fill O for a counterpart with time zone ZONE and office
 * HOURS (hours.h grammar; either may be NULL or empty) at AT_NS.
 */
void	office_eval(const char *zone, const char *hours, int64_t at_ns,
	    struct office *o);

/* office_fmt_clock - "Tue 14:32" */
void	office_fmt_clock(const struct tm *tm, char *buf, size_t len);
/* office_fmt_short - "Tue 14:32 +03:00" */
void	office_fmt_short(const struct tm *tm, long gmtoff, char *buf,
	    size_t len);
/* office_fmt_rfc3339 - "2026-11-24T14:32:05+03:00" */
void	office_fmt_rfc3339(const struct tm *tm, long gmtoff, char *buf,
	    size_t len);
/* office_fmt_offset - "+03:00", "-03:30", "+05:45" */
void	office_fmt_offset(long gmtoff, char *buf, size_t len);

#endif /* COMITY_OFFICE_H */
