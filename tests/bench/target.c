/*
 * target.c - the reference figures of shared/TARGETS.md measured in this
 * invocation, and the targets of later scenarios computed from them.
 *
 * Once a scenario's runs are over, its result (the medians, or its only
 * run) leaves its reference figures in b->ref: fsync_ms from fsync, the
 * one-core time of each CMS operation from crypto, the idle p99 from
 * idle.  idle (T2) and urgent (T3) results then get target, ratio and
 * target_holds -- only when every figure their target needs was measured
 * in the same invocation with the same SIZE; otherwise none, never a
 * guess.  Once fsync and crypto have both run, one "reference" line gives
 * critical_path_ms.
 *
 * A ratio is the measured figure divided by the reference it is held to;
 * the target says which multiple of the reference it must not exceed.
 */
#include <string.h>

#include "bench.h"

#define T2_P50_MAX	1.5	/* x critical_path_ms */
#define T2_P99_MAX	3.0
#define T3_P99_MAX	2.0	/* x the idle p99 */

static double
num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* 1000 / RATE: the milliseconds of one operation at RATE per second. */
static double
per_op_ms(double rate)
{
	return rate > 0 ? 1000.0 / rate : 0;
}

static int
have_crypto(const struct bench_ref *r)
{
	return r->seal_ms > 0 && r->open_ms > 0 && r->sign_ms > 0 &&
	    r->verify_ms > 0;
}

static double
crypto_ms(const struct bench_ref *r)
{
	return r->seal_ms + r->open_ms + r->sign_ms + r->verify_ms;
}

/* 3 commits (sender's submit, receiver's store, sender's receipt) and
 * one seal, open, receipt signature and check; 0 when not measured. */
static double
critical_path_ms(const struct bench_ref *r)
{
	if (r->fsync_ms <= 0 || !have_crypto(r))
		return 0;
	return 3 * r->fsync_ms + crypto_ms(r);
}

void
target_note(struct bench *b, const char *scenario, const json_t *res)
{
	struct bench_ref	*r = &b->ref;

	if (res == NULL)
		return;
	if (strcmp(scenario, "fsync") == 0) {
		r->fsync_ms = num(res, "fsync_ms");
	} else if (strcmp(scenario, "crypto") == 0) {
		r->seal_ms = per_op_ms(num(res, "seal_per_s_small"));
		r->open_ms = per_op_ms(num(res, "open_per_s_small"));
		r->sign_ms = per_op_ms(num(res, "receipt_sign_per_s"));
		r->verify_ms = per_op_ms(num(res, "receipt_verify_per_s"));
		r->crypto_size = (long long)num(res, "size");
	} else if (strcmp(scenario, "idle") == 0) {
		r->idle_p99_ms = num(res, "p99_ms");
		r->idle_size = (long long)num(res, "size");
	}
}

/* T2: p50 <= 1.5 x and p99 <= 3 x critical_path_ms. */
static void
target_idle(const struct bench_ref *r, json_t *o)
{
	double	cp = critical_path_ms(r), p50, p99;
	json_t	*ratio;

	if (cp <= 0 || r->crypto_size != (long long)num(o, "size") ||
	    (ratio = json_object()) == NULL)
		return;
	p50 = num(o, "p50_ms");
	p99 = num(o, "p99_ms");
	json_object_set_new(ratio, "p50", json_real(stats_round(p50 / cp, 3)));
	json_object_set_new(ratio, "p99", json_real(stats_round(p99 / cp, 3)));
	json_object_set_new(o, "critical_path_ms",
	    json_real(stats_round(cp, 3)));
	json_object_set_new(o, "target", json_string("T2: p50_ms <= 1.5 x "
	    "critical_path_ms, p99_ms <= 3 x critical_path_ms"));
	json_object_set_new(o, "ratio", ratio);
	json_object_set_new(o, "target_holds", json_boolean(
	    p50 <= T2_P50_MAX * cp && p99 <= T2_P99_MAX * cp));
}

/* T3: urgent p99 <= 2 x the idle p99. */
static void
target_urgent(const struct bench_ref *r, json_t *o)
{
	double	p99;

	if (r->idle_p99_ms <= 0 || r->idle_size != (long long)num(o, "size"))
		return;
	p99 = num(o, "p99_ms");
	json_object_set_new(o, "idle_p99_ms",
	    json_real(stats_round(r->idle_p99_ms, 3)));
	json_object_set_new(o, "target",
	    json_string("T3: p99_ms <= 2 x idle_p99_ms"));
	json_object_set_new(o, "ratio",
	    json_real(stats_round(p99 / r->idle_p99_ms, 3)));
	json_object_set_new(o, "target_holds",
	    json_boolean(p99 <= T3_P99_MAX * r->idle_p99_ms));
}

void
target_apply(const struct bench *b, const char *scenario, json_t *o)
{
	if (strcmp(scenario, "idle") == 0)
		target_idle(&b->ref, o);
	else if (strcmp(scenario, "urgent") == 0)
		target_urgent(&b->ref, o);
}

json_t *
target_reference(struct bench *b)
{
	const struct bench_ref	*r = &b->ref;
	json_t			*o;

	if (b->ref.printed || critical_path_ms(r) <= 0 ||
	    (o = json_object()) == NULL)
		return NULL;
	b->ref.printed = 1;
	json_object_set_new(o, "scenario", json_string("reference"));
	json_object_set_new(o, "size", json_integer(r->crypto_size));
	json_object_set_new(o, "fsync_ms", json_real(stats_round(r->fsync_ms,
	    3)));
	json_object_set_new(o, "seal_ms", json_real(stats_round(r->seal_ms,
	    3)));
	json_object_set_new(o, "open_ms", json_real(stats_round(r->open_ms,
	    3)));
	json_object_set_new(o, "receipt_sign_ms",
	    json_real(stats_round(r->sign_ms, 3)));
	json_object_set_new(o, "receipt_verify_ms",
	    json_real(stats_round(r->verify_ms, 3)));
	json_object_set_new(o, "crypto_ms", json_real(stats_round(crypto_ms(r),
	    3)));
	json_object_set_new(o, "critical_path_ms",
	    json_real(stats_round(critical_path_ms(r), 3)));
	return o;
}
