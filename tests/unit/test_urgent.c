/*
 * test_urgent.c - the pieces of the urgent module that need no event
 * loop: how durations read in warnings and notices, and the escalation
 * index (DB_URGQ) in arrival order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "comity.h"
#include "store.h"
#include "urgent.h"

#define MS	INT64_C(1000000)
#define SEC	(1000 * MS)

static void
test_age(void **state)
{
	static const struct {
		int64_t		 ns;
		const char	*want;
	} cases[] = {
		{ -5 * SEC, "0ms" },
		{ 0, "0ms" },
		{ 850 * MS, "850ms" },
		{ 1 * SEC, "1s" },
		{ 1 * SEC + 999 * MS, "1s" },
		{ 45 * SEC, "45s" },
		{ 60 * SEC, "1m" },
		{ 312 * SEC, "5m12s" },
		{ 1800 * SEC, "30m" },
		{ 3600 * SEC, "1h" },
		{ 7500 * SEC, "2h5m" },
		{ 7530 * SEC, "2h5m" },
		{ 86400 * SEC, "1d" },
		{ (3 * 86400 + 4 * 3600 + 59) * SEC, "3d4h" },
		{ 7 * 86400 * SEC + 30 * SEC, "7d" },
	};
	char	buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		urgent_age(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	/* a short buffer is cut, not overrun */
	urgent_age(312 * SEC, buf, 3);
	assert_string_equal(buf, "5m");
}

/* ------------------------------------------------------------ index */

struct fx {
	char		 tmp[64];
	char		 dir[96];
	struct store	*s;
};

static void
rm_tree(const char *path)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[512];

	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			if (unlink(p) == -1)
				rm_tree(p);
		}
		closedir(d);
	}
	rmdir(path);
}

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	char		 err[256];

	if (fx == NULL)
		return -1;
	snprintf(fx->tmp, sizeof(fx->tmp), "/tmp/comity-urgent-XXXXXX");
	if (mkdtemp(fx->tmp) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/store", fx->tmp);
	if (store_open(fx->dir, MAP_SIZE_MIN * 4, &fx->s, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	store_close(fx->s);
	rm_tree(fx->tmp);
	free(fx);
	return 0;
}

struct put {
	int64_t		 at;
	uint8_t		 key[ENVELOPE_ID_LEN + ID_MAX + 8];
	size_t		 klen;
	int		 rc;
};

static int
put_apply(struct store_txn *t, void *arg)
{
	struct put	*p = arg;

	p->rc = urgent_index_put(t, p->at, p->key, p->klen);
	return p->rc == COMITY_EINTERNAL ? 0 : p->rc;
}

/* an inbox key: id (16 bytes of B) || FROM */
static void
in_key(struct put *p, uint8_t b, const char *from)
{
	memset(p->key, b, ENVELOPE_ID_LEN);
	memcpy(p->key + ENVELOPE_ID_LEN, from, strlen(from));
	p->klen = ENVELOPE_ID_LEN + strlen(from);
}

static void
test_index(void **state)
{
	struct fx		*fx = *state;
	struct put		 p[5];
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, n = 0;
	/* expected order: by arrival time, then key */
	static const size_t	 order[] = { 2, 0, 1 };
	int			 rc;

	memset(p, 0, sizeof(p));
	p[0].at = 2000 * SEC;
	in_key(&p[0], 0x11, "AA-ONE");
	p[1].at = 2000 * SEC;
	in_key(&p[1], 0x22, "AA-ONE");
	p[2].at = 1000 * SEC;
	in_key(&p[2], 0x33, "BB-TWO");
	p[3].at = 5 * SEC;			/* too short a key: refused */
	in_key(&p[3], 0x44, "");
	p[4].at = 5 * SEC;			/* too long a key: refused */
	memset(p[4].key, 'A', sizeof(p[4].key));
	p[4].klen = sizeof(p[4].key);
	for (size_t i = 0; i < 5; i++)
		store_batch_add(fx->s, put_apply, NULL, &p[i]);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(p[0].rc, 0);
	assert_int_equal(p[3].rc, COMITY_EINTERNAL);
	assert_int_equal(p[4].rc, COMITY_EINTERNAL);

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_cursor_open(t, DB_URGQ, &c), 0);
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		const struct put *w;

		assert_true(n < 3);
		w = &p[order[n++]];
		assert_int_equal(kl, 8 + w->klen);
		assert_int_equal(vl, 0);
		assert_int_equal((int64_t)store_get_u64be(k), w->at);
		assert_memory_equal((const uint8_t *)k + 8, w->key, w->klen);
	}
	assert_int_equal(rc, COMITY_ENOTFOUND);
	assert_int_equal(n, 3);
	store_cursor_close(c);
	store_read_end(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test_setup_teardown(test_index, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
