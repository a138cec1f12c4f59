/*
 * stats.c - clocks, percentiles and the median of several runs.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

static int64_t
clock_ns(clockid_t id)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t
thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

void
sleep_ms(unsigned ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	/* a signal ends the sleep early: the caller checks the flag */
	nanosleep(&ts, NULL);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

double
stats_percentile(int64_t *v, size_t n, double p)
{
	size_t	rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	/* nearest rank: the smallest value with at least p% at or below */
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1];
}

double
stats_round(double x, int decimals)
{
	double	f = pow(10, decimals);

	return round(x * f) / f;
}

double
stats_ms(double ns)
{
	return stats_round(ns / 1e6, 3);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of one numeric member across the runs; NULL on ENOMEM. */
static json_t *
median_number(json_t *const *vals, size_t n)
{
	double	*d, m;
	size_t	 i;
	int	 ints = 1;

	if ((d = calloc(n, sizeof(*d))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		d[i] = json_number_value(vals[i]);
		ints = ints && json_is_integer(vals[i]);
	}
	qsort(d, n, sizeof(*d), cmp_double);
	m = n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
	free(d);
	if (ints && m == floor(m))
		return json_integer((json_int_t)m);
	return json_real(m);
}

/* The members of VALS (one per run) that are all numbers or all objects
 * get their median; anything else is taken from the first run. */
static json_t *
median_member(json_t *const *vals, size_t n)
{
	size_t	i, nums = 0, objs = 0;

	for (i = 0; i < n; i++) {
		nums += json_is_number(vals[i]);
		objs += json_is_object(vals[i]);
	}
	if (nums == n)
		return median_number(vals, n);
	if (objs == n)
		return stats_median(vals, n);
	return json_deep_copy(vals[0]);
}

json_t *
stats_median(json_t *const *runs, size_t n)
{
	json_t		**vals, *out, *v, *m;
	const char	 *key;
	size_t		  i;

	if (n == 0 || (vals = calloc(n, sizeof(*vals))) == NULL)
		return NULL;
	if ((out = json_object()) == NULL)
		goto fail;
	json_object_foreach(runs[0], key, v) {
		for (i = 0; i < n; i++) {
			vals[i] = json_object_get(runs[i], key);
			if (vals[i] == NULL)
				vals[i] = json_null();
		}
		if ((m = median_member(vals, n)) == NULL ||
		    json_object_set_new(out, key, m) != 0)
			goto fail;
	}
	free(vals);
	return out;
fail:
	json_decref(out);
	free(vals);
	return NULL;
}
