/*
 * test_office.c - a counterpart's local time from the system tz database
 * (tzdata) and its office open or closed at an instant: summer and winter
 * time in Europe/Brussels and the minutes around both changes, a +05:45
 * zone, a span past midnight in a zone west of UTC, unknown zones and
 * unreadable hours, and TZ left as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "office.h"

#define S	INT64_C(1000000000)

/* 2026 instants (UTC), checked against Python's zoneinfo */
#define JUL15_1200Z	(INT64_C(1784116800) * S)	/* Wed */
#define JAN14_1200Z	(INT64_C(1768392000) * S)	/* Wed */
#define MAR29_0059Z	(INT64_C(1774745999) * S)	/* Sun, 1 s before CEST */
#define OCT25_0059Z	(INT64_C(1792889999) * S)	/* Sun, 1 s before CET */
#define NOV24_0415Z	(INT64_C(1795493700) * S)	/* Tue */
#define NOV28_0800Z	(INT64_C(1795852800) * S)	/* Sat */
#define NOV24_0000Z	(INT64_C(1795478400) * S)	/* Tue */

static void
local_ok(const char *zone, int64_t at, const char *want_rfc3339,
    const char *want_short)
{
	struct tm	tm;
	long		off;
	char		err[160], buf[64];

	if (office_local(zone, at, &tm, &off, err, sizeof(err)) != 0)
		fail_msg("%s: %s", zone, err);
	office_fmt_rfc3339(&tm, off, buf, sizeof(buf));
	assert_string_equal(buf, want_rfc3339);
	office_fmt_short(&tm, off, buf, sizeof(buf));
	assert_string_equal(buf, want_short);
}

static int
state(const char *zone, const char *hours, int64_t at)
{
	struct office	o;

	office_eval(zone, hours, at, &o);
	return o.state;
}

static void
test_brussels_summer_winter(void **st)
{
	(void)st;
	local_ok("Europe/Brussels", JUL15_1200Z, "2026-07-15T14:00:00+02:00",
	    "Wed 14:00 +02:00");
	local_ok("Europe/Brussels", JAN14_1200Z, "2026-01-14T13:00:00+01:00",
	    "Wed 13:00 +01:00");
	/* both changes of the clock, to the second */
	local_ok("Europe/Brussels", MAR29_0059Z, "2026-03-29T01:59:59+01:00",
	    "Sun 01:59 +01:00");
	local_ok("Europe/Brussels", MAR29_0059Z + S, "2026-03-29T03:00:00+02:00",
	    "Sun 03:00 +02:00");
	local_ok("Europe/Brussels", OCT25_0059Z, "2026-10-25T02:59:59+02:00",
	    "Sun 02:59 +02:00");
	local_ok("Europe/Brussels", OCT25_0059Z + S, "2026-10-25T02:00:00+01:00",
	    "Sun 02:00 +01:00");
}

static void
test_brussels_office(void **st)
{
	const char	*h = "Mon-Fri 08:30-17:00";

	(void)st;
	/* 06:45Z is 08:45 in summer (open) but 07:45 in winter (closed) */
	assert_int_equal(state("Europe/Brussels", h,
	    JUL15_1200Z - (5 * 3600 + 15 * 60) * S), OFFICE_OPEN);
	assert_int_equal(state("Europe/Brussels", h,
	    JAN14_1200Z - (5 * 3600 + 15 * 60) * S), OFFICE_CLOSED);
	/* 07:45Z: 09:45 in summer, 08:45 in winter: open both */
	assert_int_equal(state("Europe/Brussels", h,
	    JUL15_1200Z - (4 * 3600 + 15 * 60) * S), OFFICE_OPEN);
	assert_int_equal(state("Europe/Brussels", h,
	    JAN14_1200Z - (4 * 3600 + 15 * 60) * S), OFFICE_OPEN);
	/* 15:30Z: 17:30 in summer (closed), 16:30 in winter (open) */
	assert_int_equal(state("Europe/Brussels", h,
	    JUL15_1200Z + (3 * 3600 + 30 * 60) * S), OFFICE_CLOSED);
	assert_int_equal(state("Europe/Brussels", h,
	    JAN14_1200Z + (3 * 3600 + 30 * 60) * S), OFFICE_OPEN);
	/* a Sunday */
	assert_int_equal(state("Europe/Brussels", h, MAR29_0059Z + 9 * 3600 *
	    S), OFFICE_CLOSED);
}

static void
test_kathmandu(void **st)
{
	const char	*h = "Sun-Fri 10:00-17:00";

	(void)st;
	local_ok("Asia/Kathmandu", NOV24_0415Z, "2026-11-24T10:00:00+05:45",
	    "Tue 10:00 +05:45");
	assert_int_equal(state("Asia/Kathmandu", h, NOV24_0415Z), OFFICE_OPEN);
	assert_int_equal(state("Asia/Kathmandu", h, NOV24_0415Z - S),
	    OFFICE_CLOSED);
	/* 11:15Z is 17:00 there: closed; 11:14Z open */
	assert_int_equal(state("Asia/Kathmandu", h, NOV24_0415Z + 7 * 3600 *
	    S), OFFICE_CLOSED);
	assert_int_equal(state("Asia/Kathmandu", h, NOV24_0415Z + (7 * 3600 -
	    60) * S), OFFICE_OPEN);
}

static void
test_night_west_of_utc(void **st)
{
	const char	*h = "Fri 22:00-06:00";

	(void)st;
	/* Saturday 08:00Z is Saturday 03:00 in New York: Friday's night */
	local_ok("America/New_York", NOV28_0800Z, "2026-11-28T03:00:00-05:00",
	    "Sat 03:00 -05:00");
	assert_int_equal(state("America/New_York", h, NOV28_0800Z),
	    OFFICE_OPEN);
	/* and 06:00 there (11:00Z) it has closed; in UTC it is shut */
	assert_int_equal(state("America/New_York", h, NOV28_0800Z + 3 * 3600 *
	    S), OFFICE_CLOSED);
	assert_int_equal(state("UTC", h, NOV28_0800Z), OFFICE_CLOSED);
	local_ok("UTC", NOV28_0800Z, "2026-11-28T08:00:00+00:00",
	    "Sat 08:00 +00:00");
	local_ok("Africa/Nairobi", NOV24_0000Z, "2026-11-24T03:00:00+03:00",
	    "Tue 03:00 +03:00");
}

static void
test_unknown(void **st)
{
	struct office	o;
	struct tm	tm;
	long		off;
	char		err[160];

	(void)st;
	assert_int_equal(office_local("Nowhere/Atlantis", NOV24_0000Z, &tm,
	    &off, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not in the tz database"));
	assert_int_equal(office_local("../../etc/passwd", NOV24_0000Z, &tm,
	    &off, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a time zone name"));
	assert_int_equal(office_local("Europe", NOV24_0000Z, &tm, &off, err,
	    sizeof(err)), -1);	/* a directory of the database */
	assert_int_equal(office_local("", NOV24_0000Z, &tm, &off, err,
	    sizeof(err)), -1);

	office_eval("Nowhere/Atlantis", "Mon-Fri 08:00-17:00", NOV24_0000Z, &o);
	assert_int_equal(o.state, OFFICE_UNKNOWN);
	assert_false(o.zone_known);
	assert_non_null(strstr(o.why, "Nowhere/Atlantis"));

	office_eval("Africa/Nairobi", "Mon-Fri 8 to 5", NOV24_0000Z, &o);
	assert_int_equal(o.state, OFFICE_UNKNOWN);
	assert_true(o.zone_known);		/* the local time still shows */
	assert_int_equal(strncmp(o.why, "hours: ", 7), 0);

	office_eval("Africa/Nairobi", "", NOV24_0000Z, &o);
	assert_int_equal(o.state, OFFICE_UNKNOWN);
	assert_true(o.zone_known);
	office_eval("", "Mon-Fri 08:00-17:00", NOV24_0000Z, &o);
	assert_int_equal(o.state, OFFICE_UNKNOWN);
	assert_false(o.zone_known);
	office_eval(NULL, NULL, NOV24_0000Z, &o);
	assert_int_equal(o.state, OFFICE_UNKNOWN);
}

static void
test_tz_restored(void **st)
{
	struct tm	tm;
	long		off;
	char		err[160];
	time_t		t = (time_t)(NOV24_0000Z / S);

	(void)st;
	assert_int_equal(setenv("TZ", "America/Chicago", 1), 0);
	tzset();
	assert_int_equal(office_local("Asia/Kathmandu", NOV24_0000Z, &tm, &off,
	    err, sizeof(err)), 0);
	assert_string_equal(getenv("TZ"), "America/Chicago");
	localtime_r(&t, &tm);
	assert_int_equal(tm.tm_gmtoff, -6 * 3600);

	assert_int_equal(unsetenv("TZ"), 0);
	assert_int_equal(office_local("Asia/Kathmandu", NOV24_0000Z, &tm, &off,
	    err, sizeof(err)), 0);
	assert_null(getenv("TZ"));
	assert_int_equal(off, 5 * 3600 + 45 * 60);
}

static void
test_formats(void **st)
{
	char	buf[32];

	(void)st;
	office_fmt_offset(0, buf, sizeof(buf));
	assert_string_equal(buf, "+00:00");
	office_fmt_offset(5 * 3600 + 45 * 60, buf, sizeof(buf));
	assert_string_equal(buf, "+05:45");
	office_fmt_offset(-(3 * 3600 + 30 * 60), buf, sizeof(buf));
	assert_string_equal(buf, "-03:30");
	office_fmt_offset(-10 * 3600, buf, sizeof(buf));
	assert_string_equal(buf, "-10:00");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brussels_summer_winter),
		cmocka_unit_test(test_brussels_office),
		cmocka_unit_test(test_kathmandu),
		cmocka_unit_test(test_night_west_of_utc),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_formats),
	};

	/* the tz database is looked up where the CLI looks for it */
	unsetenv("TZDIR");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
