/*
 * test_hook.c - what the urgent hook is given: variable names refused,
 * values from a counterpart sanitised and cut on a character boundary,
 * the time format, and the checks on the hook file.  (Running hooks is
 * tests/integration/t17_urgent_hook.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "hook.h"

static void
expect_entry(const char *in, const char *want)
{
	char	*got = hook_env_entry(in);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("\"%s\" accepted as \"%s\"", in, got);
		return;
	}
	if (got == NULL)
		fail_msg("\"%s\" refused", in);
	assert_string_equal(got, want);
	free(got);
}

static void
test_names(void **state)
{
	char	 name[HOOK_NAME_MAX + 8];

	(void)state;
	expect_entry("COMITY_ID=abc", "COMITY_ID=abc");
	expect_entry("_X1=", "_X1=");
	expect_entry("COMITY_CASE", NULL);		/* no '=' */
	expect_entry("=value", NULL);
	expect_entry("comity_id=1", NULL);
	expect_entry("1ABC=1", NULL);
	expect_entry("A-B=1", NULL);
	expect_entry("A B=1", NULL);
	expect_entry("PATH=/tmp", NULL);		/* ours alone */
	expect_entry("PATHS=/tmp", "PATHS=/tmp");
	expect_entry("LD_PRELOAD=x", "LD_PRELOAD=x");	/* a caller's name */
	memset(name, 'A', HOOK_NAME_MAX);
	strcpy(name + HOOK_NAME_MAX, "=1");
	expect_entry(name, name);
	memmove(name + 1, name, strlen(name) + 1);	/* one too long */
	expect_entry(name, NULL);
}

static void
test_values(void **state)
{
	(void)state;
	/* the first '=' ends the name; the rest is value */
	expect_entry("A=b=c", "A=b=c");
	expect_entry("C=AA/2026/17\nFAKE=1", "C=AA/2026/17?FAKE=1");
	expect_entry("C=\r\t\x01\x1b[31m\x7f", "C=????[31m?");
	/* UTF-8 kept; C1 controls (U+0085 NEL, U+009B CSI) replaced */
	expect_entry("C=\xc3\xbc\xc2\x85\xc2\x9b\xc2\xa0",
	    "C=\xc3\xbc??\xc2\xa0");
	/* a lone 0xc2 at the end is left as it is */
	expect_entry("C=x\xc2", "C=x\xc2");
}

static void
test_cut(void **state)
{
	char	 in[HOOK_VALUE_MAX + 16], want[HOOK_VALUE_MAX + 16];
	char	*got;

	(void)state;
	/* exactly the bound: kept whole */
	strcpy(in, "V=");
	memset(in + 2, 'x', HOOK_VALUE_MAX);
	in[2 + HOOK_VALUE_MAX] = '\0';
	expect_entry(in, in);
	/* one byte more: cut to the bound */
	strcpy(in + 2 + HOOK_VALUE_MAX, "y");
	memcpy(want, in, 2 + HOOK_VALUE_MAX);
	want[2 + HOOK_VALUE_MAX] = '\0';
	expect_entry(in, want);
	/* a two-byte character across the bound: dropped whole */
	memset(in + 2, 'x', HOOK_VALUE_MAX - 1);
	strcpy(in + 2 + HOOK_VALUE_MAX - 1, "\xc3\xbcz");
	memcpy(want, in, 2 + HOOK_VALUE_MAX - 1);
	want[2 + HOOK_VALUE_MAX - 1] = '\0';
	expect_entry(in, want);
	/* a three-byte character ending at the bound: kept */
	memset(in + 2, 'x', HOOK_VALUE_MAX - 3);
	strcpy(in + 2 + HOOK_VALUE_MAX - 3, "\xe2\x82\xac" "z");
	got = hook_env_entry(in);
	assert_non_null(got);
	assert_int_equal(strlen(got), 2 + HOOK_VALUE_MAX);
	assert_memory_equal(got + 2 + HOOK_VALUE_MAX - 3, "\xe2\x82\xac", 3);
	free(got);
	/* ... and one byte later: dropped whole */
	memset(in + 2, 'x', HOOK_VALUE_MAX - 2);
	strcpy(in + 2 + HOOK_VALUE_MAX - 2, "\xe2\x82\xac" "z");
	memcpy(want, in, 2 + HOOK_VALUE_MAX - 2);
	want[2 + HOOK_VALUE_MAX - 2] = '\0';
	expect_entry(in, want);
}

static void
test_time(void **state)
{
	char	buf[HOOK_TIME_LEN];

	(void)state;
	hook_time(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	hook_time(1795508102123456789LL, buf);
	assert_string_equal(buf, "2026-11-24T08:15:02.123Z");
	hook_time(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

static void
test_check(void **state)
{
	char	 dir[] = "/tmp/test_hook.XXXXXX", path[64], err[256];
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hook", dir);
	assert_int_equal(hook_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(hook_check(dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_non_null(f = fopen(path, "w"));
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0775), 0);
	assert_int_equal(hook_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(chmod(path, 0757), 0);
	assert_int_equal(hook_check(path, err, sizeof(err)), -1);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(hook_check(path, err, sizeof(err)), 0);
	/* as root, any x bit makes a file executable: test that only as
	 * another user */
	if (geteuid() != 0) {
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(hook_check(path, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not executable"));
	}
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
