/*
 * hours.h - office hours: the directory's `hours` grammar and whether a
 * local time falls inside them.
 *
 * Shared by the daemon (which refuses a directory whose hours do not
 * parse) and the CLI (which says whether a counterpart is open now).
 * Pure functions: no I/O, no time zone, no allocation.  Time zones are
 * the caller's business: it converts to the counterpart's local time
 * first.  The grammar (also in comityd.conf(5)):
 *
 *   hours  = "24/7" | rule *( ";" rule )
 *   rule   = days spans
 *   days   = dayset *( "," dayset )      dayset = day [ "-" day ]
 *   spans  = span *( "," span )          span   = hh:mm "-" hh:mm
 *   day    = Mon | Tue | Wed | Thu | Fri | Sat | Sun   (any case)
 *
 * e.g. "Mon-Fri 08:30-12:30,13:30-17:00; Sat 09:00-12:00".  A day range
 * may wrap over the week end ("Fri-Mon"); a span ending at or before its
 * start runs past midnight into the next day ("Fri 22:00-06:00" is Friday
 * 22:00 to Saturday 06:00); "24:00" is allowed as an end.  Blanks between
 * tokens are free.  Days not named are closed.
 */
#ifndef COMITY_HOURS_H
#define COMITY_HOURS_H

#include <stddef.h>

#define HOURS_TEXT_MAX		512	/* longest hours string parsed */
#define HOURS_ZONE_MAX		64	/* longest time zone name */
#define HOURS_MIN_PER_DAY	1440
#define HOURS_MIN_PER_WEEK	(7 * HOURS_MIN_PER_DAY)

/* The week as one bit per minute, Monday 00:00 first. */
struct hours {
	unsigned char	 open[HOURS_MIN_PER_WEEK / 8];
};

/*
 * hours_parse - parse TEXT into H.  Returns 0, or -1 with the reason
 * ("Mon-Fri: no time span", ...) in ERR.  H is filled either way (all
 * closed on failure).
 */
int	hours_parse(const char *text, struct hours *h, char *err,
	    size_t errlen);

/*
 * hours_open_at - whether H is open on local day WDAY (0 = Sunday .. 6 =
 * Saturday, as struct tm's tm_wday) at HOUR:MIN.  Out-of-range input is
 * closed.
 */
int	hours_open_at(const struct hours *h, int wday, int hour, int min);

/*
 * hours_zone_name_ok - NAME has the shape of an IANA time zone name
 * ("Africa/Nairobi", "Etc/GMT+3", "UTC"): 1 to HOURS_ZONE_MAX bytes of
 * letters, digits, '/', '_', '+', '-' (so no "." or ".." component), no
 * empty component, not starting with '/'.  Says nothing about whether the
 * zone exists.
 */
int	hours_zone_name_ok(const char *name);

#endif /* COMITY_HOURS_H */
