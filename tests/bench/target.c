/*
 * target.c - the reference figures of shared/TARGETS.md measured in this
 * invocation, and the targets of later scenarios computed from them.
 *
 * Once a scenario's runs are over, its result (the medians, or its only
 * run) leaves its reference figures in b->ref: fsync_ms and the CPU of a
 * 1 MiB commit from fsync, the one-core time of each CMS operation and
 * of the other work on a 1 MiB document from crypto, the idle p99 from
 * idle.  bulk (T1), documents (T4), idle (T2) and urgent (T3) results
 * then get target, ratio and target_holds -- only when every figure their
 * target needs was measured in the same invocation with the same SIZE;
 * otherwise none, never a guess.  Once fsync and crypto have both run,
 * one "reference" line gives critical_path_ms.
 *
 * links (T6) and restart (T5) need no reference: their targets are
 * absolute or a ratio within the run.  bulk and documents also get T7,
 * peak RSS per daemon, in fields of its own (rss_target_kib, rss_holds)
 * beside their throughput target.
 *
 * A ratio is the measured figure divided by the reference it is held to;
 * the target says which multiple of the reference it must not exceed
 * (T2, T3, T5, T6) or must reach (T1, T4).
 */
#include <string.h>

#include "bench.h"

#define T1_MIN		0.75	/* x crypto_ceiling_msgs_s */
#define T2_P50_MAX	1.5	/* x critical_path_ms */
#define T2_P99_MAX	3.0
#define T3_P99_MAX	2.0	/* x the idle p99 */
#define T4_MIN		0.6	/* x crypto_ceiling_mb_s_1m */
#define T5_READY_MAX_S	1.0
#define T5_RATIO_MAX	2.0	/* x the restart time of a small queue */
#define T6_BASE_KIB	(16 * 1024)
#define T6_PER_LINK_KIB	64
#define T7_RSS_MAX_KIB	(64 * 1024)
#define DOC_1M		(1 << 20)	/* crypto's "1m" size */

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

/* crypto_ms() for a document of 1 MiB; 0 when not measured */
static double
crypto_1m_ms(const struct bench_ref *r)
{
	if (!have_crypto(r) || r->seal_1m_ms <= 0 || r->open_1m_ms <= 0)
		return 0;
	return r->seal_1m_ms + r->open_1m_ms + r->sign_ms + r->verify_ms;
}

/* cores / (1/seal + 1/open + 1/sign + 1/verify) of SIZE bytes (crypto's
 * size or 1 MiB), requests per second; 0 when not measured. */
static double
ceiling_msgs_s(const struct bench_ref *r, long long size)
{
	double	ms = 0;

	if (!have_crypto(r) || r->cores < 1)
		return 0;
	if (size == r->crypto_size)
		ms = crypto_ms(r);
	else if (size == DOC_1M)
		ms = crypto_1m_ms(r);
	return ms > 0 ? (double)r->cores * 1000.0 / ms : 0;
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
		r->commit_1m_cpu_ms = num(res, "commit_1m_cpu_ms");
	} else if (strcmp(scenario, "crypto") == 0) {
		r->seal_ms = per_op_ms(num(res, "seal_per_s_small"));
		r->open_ms = per_op_ms(num(res, "open_per_s_small"));
		r->sign_ms = per_op_ms(num(res, "receipt_sign_per_s"));
		r->verify_ms = per_op_ms(num(res, "receipt_verify_per_s"));
		r->crypto_size = (long long)num(res, "size");
		r->seal_1m_ms = per_op_ms(num(res, "seal_per_s_1m"));
		r->open_1m_ms = per_op_ms(num(res, "open_per_s_1m"));
		r->sha256_1m_ms = num(res, "sha256_1m_ms");
		r->tls_1m_ms = num(res, "tls_1m_ms");
		r->socket_1m_ms = num(res, "socket_1m_ms");
		r->cores = (long)num(res, "cores");
	} else if (strcmp(scenario, "idle") == 0) {
		r->idle_p99_ms = num(res, "p99_ms");
		r->idle_size = (long long)num(res, "size");
	}
}

/* put_target - the target as text, the ratio to it, whether it holds */
static void
put_target(json_t *o, const char *text, double ratio, int holds)
{
	json_object_set_new(o, "target", json_string(text));
	json_object_set_new(o, "ratio", json_real(stats_round(ratio, 3)));
	json_object_set_new(o, "target_holds", json_boolean(holds));
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

/*
 * T3: urgent p99 <= 2 x the idle p99.  Beside it, the floor measured
 * under the same load (urgent.c): floor_ratio is floor_p99_ms over the
 * idle p99, and floor_within_target says whether three durable commits
 * alone fit in T3's allowance -- false: the target is out of reach of
 * any daemon on this machine under this load, whatever it does.
 */
static void
target_urgent(const struct bench_ref *r, json_t *o)
{
	double	p99, floor;

	if (r->idle_p99_ms <= 0 || r->idle_size != (long long)num(o, "size"))
		return;
	p99 = num(o, "p99_ms");
	json_object_set_new(o, "idle_p99_ms",
	    json_real(stats_round(r->idle_p99_ms, 3)));
	put_target(o, "T3: p99_ms <= 2 x idle_p99_ms", p99 / r->idle_p99_ms,
	    p99 <= T3_P99_MAX * r->idle_p99_ms);
	if ((floor = num(o, "floor_p99_ms")) <= 0)
		return;
	json_object_set_new(o, "floor_ratio",
	    json_real(stats_round(floor / r->idle_p99_ms, 3)));
	json_object_set_new(o, "floor_within_target",
	    json_boolean(floor <= T3_P99_MAX * r->idle_p99_ms));
}

/* T1: bulk msgs_per_s >= 0.75 x the crypto ceiling for its size. */
static void
target_bulk(const struct bench_ref *r, json_t *o)
{
	double	ceiling, rate;

	if ((ceiling = ceiling_msgs_s(r, (long long)num(o, "size"))) <= 0)
		return;
	rate = num(o, "msgs_per_s");
	json_object_set_new(o, "crypto_ceiling_msgs_s",
	    json_real(stats_round(ceiling, 1)));
	put_target(o, "T1: msgs_per_s >= 0.75 x crypto_ceiling_msgs_s",
	    rate / ceiling, rate >= T1_MIN * ceiling);
}

/*
 * T4's floor: the one-core milliseconds a 1 MiB document takes on this
 * machine doing only what no pair of daemons can leave out -- the CMS
 * work the ceiling counts (one seal, one open, a receipt signed and
 * checked), and beside it the sealed body hashed on each side (the
 * receipt names it), one durable commit of it on each side, its TLS
 * records sealed and opened, and three of the four socket copies (the
 * sender reads the client's socket and writes the link, the receiver
 * reads the link; the client's own write is not the daemons' work).  0
 * when a figure is missing.
 */
static double
doc_floor_ms(const struct bench_ref *r)
{
	if (crypto_1m_ms(r) <= 0 || r->sha256_1m_ms <= 0 ||
	    r->tls_1m_ms <= 0 || r->socket_1m_ms <= 0 ||
	    r->commit_1m_cpu_ms <= 0)
		return 0;
	return crypto_1m_ms(r) + 2 * r->sha256_1m_ms +
	    2 * r->commit_1m_cpu_ms + r->tls_1m_ms + 1.5 * r->socket_1m_ms;
}

/*
 * T4: documents mb_per_s >= 0.6 x the crypto ceiling of 1 MiB, in MB/s.
 * Beside it, the floor: floor_cpu_ms_per_msg (doc_floor_ms(), to set
 * against the daemons' cpu_ms_per_msg), floor_mb_s_1m (the rate those
 * cores would give doing that alone), floor_ratio (that rate over the
 * ceiling) and floor_within_target -- false: the other work alone leaves
 * less than T4 asks for of the ceiling, and the target is out of reach
 * of any daemon on this machine, whatever it does.
 */
static void
target_documents(const struct bench_ref *r, json_t *o)
{
	double	ceiling, mbs, floor_ms, floor;

	if ((long long)num(o, "size") != DOC_1M ||
	    (ceiling = ceiling_msgs_s(r, DOC_1M) * DOC_1M / 1e6) <= 0)
		return;
	mbs = num(o, "mb_per_s");
	json_object_set_new(o, "crypto_ceiling_mb_s_1m",
	    json_real(stats_round(ceiling, 2)));
	put_target(o, "T4: mb_per_s >= 0.6 x crypto_ceiling_mb_s_1m",
	    mbs / ceiling, mbs >= T4_MIN * ceiling);
	if ((floor_ms = doc_floor_ms(r)) <= 0)
		return;
	floor = (double)r->cores * 1000.0 / floor_ms * DOC_1M / 1e6;
	json_object_set_new(o, "floor_cpu_ms_per_msg",
	    json_real(stats_round(floor_ms, 2)));
	json_object_set_new(o, "floor_mb_s_1m",
	    json_real(stats_round(floor, 2)));
	json_object_set_new(o, "floor_ratio",
	    json_real(stats_round(floor / ceiling, 3)));
	json_object_set_new(o, "floor_within_target",
	    json_boolean(floor >= T4_MIN * ceiling));
}

/* T7: the peak RSS of every daemon <= 64 MiB. */
static void
target_rss(json_t *o)
{
	json_t		*peak = json_object_get(o, "rss_peak_kib"), *v;
	const char	*key;
	int		 holds = 1;

	if (!json_is_object(peak) || json_object_size(peak) == 0)
		return;
	json_object_foreach(peak, key, v)
		if (json_number_value(v) > T7_RSS_MAX_KIB)
			holds = 0;
	json_object_set_new(o, "rss_target_kib", json_integer(T7_RSS_MAX_KIB));
	json_object_set_new(o, "rss_holds", json_boolean(holds));
}

/* T5: ready_s <= 1 s, and <= 2 x small_ready_s. */
static void
target_restart(json_t *o)
{
	double	ready = num(o, "ready_s"), small = num(o, "small_ready_s");
	double	ratio;

	if (ready <= 0 || small <= 0)
		return;
	ratio = ready / small;
	put_target(o, "T5: ready_s <= 1 and ready_s <= 2 x small_ready_s",
	    ratio, ready <= T5_READY_MAX_S && ratio <= T5_RATIO_MAX);
}

/* T6: rss_kib <= 16 MiB + 64 KiB per link. */
static void
target_links(json_t *o)
{
	double	links = num(o, "links"), rss = num(o, "rss_kib");
	double	max = T6_BASE_KIB + T6_PER_LINK_KIB * links;

	if (links <= 0 || rss <= 0)
		return;
	json_object_set_new(o, "rss_target_kib", json_integer((json_int_t)max));
	put_target(o, "T6: rss_kib <= 16 MiB + 64 KiB x links", rss / max,
	    rss <= max);
}

void
target_apply(const struct bench *b, const char *scenario, json_t *o)
{
	if (strcmp(scenario, "bulk") == 0) {
		target_bulk(&b->ref, o);
		target_rss(o);
	} else if (strcmp(scenario, "documents") == 0) {
		target_documents(&b->ref, o);
		target_rss(o);
	} else if (strcmp(scenario, "idle") == 0)
		target_idle(&b->ref, o);
	else if (strcmp(scenario, "urgent") == 0)
		target_urgent(&b->ref, o);
	else if (strcmp(scenario, "restart") == 0)
		target_restart(o);
	else if (strcmp(scenario, "links") == 0)
		target_links(o);
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
