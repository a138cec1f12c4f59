/*
 * comityd.h - the daemon's one global context.
 *
 * Holds what every module shares: configuration, directory, TLS contexts,
 * store and event base.  Nothing
 * else lives here; modules keep their own state in their own structs.
 */
#ifndef COMITYD_H
#define COMITYD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct conf;
struct directory;
struct tls_ctx;
struct store;

struct comityd {
	struct conf		*conf;
	struct directory	*dir;
	struct tls_ctx		*tls;
	struct store		*store;
	struct event_base	*base;
	struct evdns_base	*dns;
	const char		*self;		/* our authority id (conf->id) */
	uint32_t		 self_accepts;	/* types we accept, 0 = any */
	int			 stopping;
};

extern struct comityd	*cd;

#define NS_PER_MS	INT64_C(1000000)

/* now_ns - CLOCK_REALTIME in ns since the epoch (UTC) */
int64_t	now_ns(void);
/* mono_ms, mono_us - CLOCK_MONOTONIC in ms, in µs */
uint64_t mono_ms(void);
uint64_t mono_us(void);
/*
 * timer_at - (re)arm timer EV to fire at AT (ns since the epoch; at once
 * when past), but within MAX_MS: a wall-clock deadline is looked at again
 * at least that often.  Returns when it will fire (ns since the epoch).
 */
struct event;
int64_t	timer_at(struct event *ev, int64_t at, int64_t max_ms);

#endif /* COMITYD_H */
