/*
 * test_hours.c - the office hours grammar: what parses, what each string
 * means minute by minute (lunch breaks, day lists, ranges over the week
 * end, spans past midnight, 24:00, 24/7), and precise refusals of bad
 * strings.  Time zone names: shape only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hours.h"

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static struct hours
parse_ok(const char *text)
{
	struct hours	h;
	char		err[160];

	if (hours_parse(text, &h, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", text, err);
	return h;
}

/* TEXT is refused with a reason containing WANT, and H is all closed */
static void
parse_bad(const char *text, const char *want)
{
	struct hours	h;
	char		err[160];
	size_t		i;

	memset(&h, 0xa5, sizeof(h));
	if (hours_parse(text, &h, err, sizeof(err)) == 0)
		fail_msg("\"%s\" accepted", text);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text, err, want);
	for (i = 0; i < sizeof(h.open); i++)
		assert_int_equal(h.open[i], 0);
}

static int
open_at(const struct hours *h, int wday, const char *hhmm)
{
	int	hh = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
	int	mm = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');

	return hours_open_at(h, wday, hh, mm);
}

static void
test_weekdays(void **state)
{
	struct hours	h = parse_ok("Mon-Fri 08:30-17:00");
	int		d;

	(void)state;
	for (d = MON; d <= FRI; d++) {
		assert_false(open_at(&h, d, "00:00"));
		assert_false(open_at(&h, d, "08:29"));
		assert_true(open_at(&h, d, "08:30"));
		assert_true(open_at(&h, d, "12:00"));
		assert_true(open_at(&h, d, "16:59"));
		assert_false(open_at(&h, d, "17:00"));
		assert_false(open_at(&h, d, "23:59"));
	}
	assert_false(open_at(&h, SAT, "10:00"));
	assert_false(open_at(&h, SUN, "10:00"));
}

static void
test_lunch_and_saturday(void **state)
{
	struct hours	h = parse_ok("Mon-Fri 08:30-12:30,13:30-17:00; "
			    "Sat 09:00-12:00");

	(void)state;
	assert_true(open_at(&h, TUE, "12:29"));
	assert_false(open_at(&h, TUE, "12:30"));
	assert_false(open_at(&h, TUE, "13:29"));
	assert_true(open_at(&h, TUE, "13:30"));
	assert_true(open_at(&h, SAT, "09:00"));
	assert_true(open_at(&h, SAT, "11:59"));
	assert_false(open_at(&h, SAT, "12:00"));
	assert_false(open_at(&h, SAT, "13:30"));
	assert_false(open_at(&h, SUN, "09:30"));
}

static void
test_day_lists_and_ranges(void **state)
{
	struct hours	h;

	(void)state;
	h = parse_ok("Mon,Wed,Fri 09:00-10:00");
	assert_true(open_at(&h, MON, "09:30"));
	assert_false(open_at(&h, TUE, "09:30"));
	assert_true(open_at(&h, WED, "09:30"));
	assert_false(open_at(&h, THU, "09:30"));
	assert_true(open_at(&h, FRI, "09:30"));

	/* a range over the week end */
	h = parse_ok("Fri-Mon 10:00-11:00");
	assert_true(open_at(&h, FRI, "10:00"));
	assert_true(open_at(&h, SAT, "10:00"));
	assert_true(open_at(&h, SUN, "10:00"));
	assert_true(open_at(&h, MON, "10:00"));
	assert_false(open_at(&h, TUE, "10:00"));
	assert_false(open_at(&h, THU, "10:00"));

	/* lists of ranges, any case, whole names, single digit hours */
	h = parse_ok("mon-TUE,Thursday-friday 8:00-9:00");
	assert_true(open_at(&h, MON, "08:00"));
	assert_true(open_at(&h, TUE, "08:59"));
	assert_false(open_at(&h, WED, "08:30"));
	assert_true(open_at(&h, THU, "08:30"));
	assert_true(open_at(&h, FRI, "08:30"));

	/* Nepal's week: Sunday to Friday */
	h = parse_ok("Sun-Fri 10:00-17:00");
	assert_true(open_at(&h, SUN, "10:00"));
	assert_false(open_at(&h, SAT, "10:00"));
}

static void
test_midnight(void **state)
{
	struct hours	h;

	(void)state;
	h = parse_ok("Fri 22:00-06:00");
	assert_false(open_at(&h, FRI, "05:00"));	/* Thursday's night */
	assert_false(open_at(&h, FRI, "21:59"));
	assert_true(open_at(&h, FRI, "22:00"));
	assert_true(open_at(&h, FRI, "23:59"));
	assert_true(open_at(&h, SAT, "00:00"));
	assert_true(open_at(&h, SAT, "05:59"));
	assert_false(open_at(&h, SAT, "06:00"));
	assert_false(open_at(&h, SAT, "22:30"));

	/* Sunday night runs into Monday: the week wraps */
	h = parse_ok("Sun 23:00-01:00");
	assert_true(open_at(&h, SUN, "23:30"));
	assert_true(open_at(&h, MON, "00:30"));
	assert_false(open_at(&h, MON, "01:00"));
	assert_false(open_at(&h, SAT, "23:30"));

	/* an end of 00:00 is midnight */
	h = parse_ok("Mon 18:00-00:00");
	assert_true(open_at(&h, MON, "23:59"));
	assert_false(open_at(&h, TUE, "00:00"));

	/* 24:00 ends the day; 00:00-24:00 is the whole day */
	h = parse_ok("Sat 00:00-24:00");
	assert_true(open_at(&h, SAT, "00:00"));
	assert_true(open_at(&h, SAT, "23:59"));
	assert_false(open_at(&h, SUN, "00:00"));
	assert_false(open_at(&h, FRI, "23:59"));
}

static void
test_always_and_blanks(void **state)
{
	struct hours	h;
	int		d;

	(void)state;
	h = parse_ok("24/7");
	for (d = SUN; d <= SAT; d++) {
		assert_true(open_at(&h, d, "00:00"));
		assert_true(open_at(&h, d, "13:13"));
		assert_true(open_at(&h, d, "23:59"));
	}
	h = parse_ok("  24/7 ");
	assert_true(open_at(&h, WED, "03:00"));

	h = parse_ok(" Mon - Fri\t08:00 - 12:00 , 13:00-17:00 ;Sat 9:00-12:00;");
	assert_true(open_at(&h, MON, "08:00"));
	assert_false(open_at(&h, MON, "12:30"));
	assert_true(open_at(&h, FRI, "16:00"));
	assert_true(open_at(&h, SAT, "09:00"));
	h = parse_ok("Mon 08:00-09:00;; Tue 08:00-09:00");
	assert_true(open_at(&h, TUE, "08:00"));

	/* out-of-range questions are answered "closed" */
	h = parse_ok("24/7");
	assert_false(hours_open_at(&h, -1, 10, 0));
	assert_false(hours_open_at(&h, 7, 10, 0));
	assert_false(hours_open_at(&h, MON, 24, 0));
	assert_false(hours_open_at(&h, MON, 10, 60));
	assert_false(hours_open_at(&h, MON, -1, 0));
}

static void
test_bad(void **state)
{
	char	longtext[HOURS_TEXT_MAX + 32];
	size_t	i;

	(void)state;
	parse_bad("", "no office hours");
	parse_bad("   ", "no office hours");
	parse_bad(";", "no office hours");
	parse_bad("Mon-Fri", "expected a time span");
	parse_bad("08:00-17:00", "expected a day");
	parse_bad("Mox 08:00-17:00", "expected a day (Mon..Sun) at \"Mox\"");
	parse_bad("Mon-Fri 8-17", "at \"8\"");
	parse_bad("Mon-Fri 25:00-26:00", "expected a time span");
	parse_bad("Mon-Fri 08:60-17:00", "at \"08:60\"");
	parse_bad("Mon-Fri 08:00-24:01", "at \"24:01\"");
	parse_bad("Mon-Fri 08:00-08:00", "empty span 08:00-08:00");
	parse_bad("Mon 00:00-00:00", "00:00-24:00");
	parse_bad("Mon-Fri 24:00-08:00", "cannot start at 24:00");
	parse_bad("Mon-Fri 08:00-", "expected an end time");
	parse_bad("Mon-Fri 08:00 17:00", "expected \"-\"");
	parse_bad("Mon-Fri 08:00-17:00,", "expected a time (hh:mm)");
	parse_bad("Mon-Fri, 08:00-17:00", "expected a day");
	parse_bad("Mon- 08:00-17:00", "expected a day after \"-\"");
	parse_bad("Mon-Fri 08:00-17:00 Sat", "expected \";\" or the end at "
	    "\"Sat\"");
	parse_bad("Mon-Fri 08:00-17:00; Sat", "expected a time span");
	parse_bad("Mon-Fri 08:00-17:00 closed", "at \"closed\"");
	parse_bad("24/7 Mon", "expected a day (Mon..Sun) at \"24\"");
	parse_bad("Mon-Fri 08:00-17:00 / lunch", "at \"/\"");
	parse_bad("Mon-Fri 008:00-17:00", "at \"008:00\"");
	parse_bad("Mon-Fri 08:00:00-17:00", "at \"08:00:00\"");
	for (i = 0; i < sizeof(longtext) - 1; i++)
		longtext[i] = ' ';
	longtext[i] = '\0';
	memcpy(longtext, "Mon 08:00-09:00", 15);
	parse_bad(longtext, "longer than");
}

static void
test_zone_names(void **state)
{
	char	longname[HOURS_ZONE_MAX + 2];

	(void)state;
	assert_true(hours_zone_name_ok("Africa/Nairobi"));
	assert_true(hours_zone_name_ok("America/Argentina/Buenos_Aires"));
	assert_true(hours_zone_name_ok("Etc/GMT+3"));
	assert_true(hours_zone_name_ok("Etc/GMT-14"));
	assert_true(hours_zone_name_ok("UTC"));
	assert_false(hours_zone_name_ok(NULL));
	assert_false(hours_zone_name_ok(""));
	assert_false(hours_zone_name_ok("/etc/passwd"));
	assert_false(hours_zone_name_ok("../../etc/passwd"));
	assert_false(hours_zone_name_ok("Europe/../../x"));
	assert_false(hours_zone_name_ok("Europe//Paris"));
	assert_false(hours_zone_name_ok("Europe/"));
	assert_false(hours_zone_name_ok("Europe/Paris "));
	assert_false(hours_zone_name_ok("UTC+3:00"));
	assert_false(hours_zone_name_ok(":Europe/Paris"));
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(hours_zone_name_ok(longname));
	longname[HOURS_ZONE_MAX] = '\0';
	assert_true(hours_zone_name_ok(longname));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weekdays),
		cmocka_unit_test(test_lunch_and_saturday),
		cmocka_unit_test(test_day_lists_and_ranges),
		cmocka_unit_test(test_midnight),
		cmocka_unit_test(test_always_and_blanks),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_zone_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
