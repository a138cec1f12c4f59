/*
 * fuzz_hours.c - the office hours grammar (a directory's `hours` value,
 * and the same string as the CLI receives it from the daemon).
 *
 * Beyond "no crash, no UB": a refusal leaves every minute closed and
 * says why; an acceptance is stable (parsing the same text again gives
 * the same week); every question hours_open_at() is asked is answered
 * 0 or 1.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hours.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hours	h, again;
	char		*text, err[160];
	size_t		i;
	int		d, m;

	/* a little past the limit, so the length check is reached too */
	if (size > HOURS_TEXT_MAX + 64)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hours_parse(text, &h, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		for (i = 0; i < sizeof(h.open); i++)
			if (h.open[i] != 0)
				abort();
	} else {
		if (hours_parse(text, &again, err, sizeof(err)) != 0 ||
		    memcmp(&h, &again, sizeof(h)) != 0)
			abort();
		for (d = 0; d < 7; d++)
			for (m = 0; m < HOURS_MIN_PER_DAY; m += 7)
				if (hours_open_at(&h, d, m / 60, m % 60) > 1)
					abort();
	}
	(void)hours_zone_name_ok(text);
	free(text);
	return 0;
}
