/*
 * context.c - the daemon's global context and its clocks.
 */
#include <time.h>

#include <event2/event.h>

#include "comityd.h"
#include "log.h"

static struct comityd	the_daemon;
struct comityd		*cd = &the_daemon;

int64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

int64_t
timer_at(struct event *ev, int64_t at, int64_t max_ms)
{
	struct timeval	tv;
	int64_t		now = now_ns(), ms;

	if (at <= now)
		ms = 0;
	else if (at - now >= max_ms * NS_PER_MS)
		ms = max_ms;
	else
		ms = (at - now + NS_PER_MS - 1) / NS_PER_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	if (evtimer_add(ev, &tv) != 0)
		fatalx("cannot set a timer");
	return now + ms * NS_PER_MS;
}
