/*
 * test_conf.c - comityd.conf parsing: defaults, every bound, errors with
 * file:line, relative paths, durations, sizes, host:port.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "conf.h"
#include "log.h"

static char	tmpdir[256];
static char	realtmp[PATH_MAX];

/* The keys every config needs; tests append to or replace sections. */
static const char *base_authority =
    "[authority]\n"
    "id = BE-FPSJ\n"
    "cert = pki/BE-FPSJ.pem\n"
    "key = pki/BE-FPSJ.key\n"
    "ca = pki/ca.pem\n"
    "directory = directory.conf\n";
static const char *base_rest =
    "[store]\n"
    "path = var/store\n"
    "[client]\n"
    "socket = var/comity.sock\n";

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_conf.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (realpath(tmpdir, realtmp) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* write_conf - write TEXT to tmpdir/NAME, return the path (static) */
static const char *
write_file(const char *name, const char *text)
{
	static char	path[PATH_MAX];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* load - base config + EXTRA; returns the conf or NULL with err */
static struct conf *
load(const char *extra, char *err, size_t errlen)
{
	char text[8192];

	snprintf(text, sizeof(text), "%s%s%s", base_authority, base_rest,
	    extra);
	return conf_load(write_file("c.conf", text), err, errlen);
}

/* expect_error - loading EXTRA fails at LINE with a reason containing WHAT */
static void
expect_error_at(const char *extra, int line, const char *what)
{
	char		 err[1024], want[PATH_MAX + 32];
	struct conf	*c;

	err[0] = '\0';
	c = load(extra, err, sizeof(err));
	if (c != NULL)
		fail_msg("accepted: %s", extra);
	snprintf(want, sizeof(want), "%s/c.conf:%d: ", tmpdir, line);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, what) == NULL)
		fail_msg("config \"%s\": got \"%s\", want \"%s...%s\"", extra,
		    err, want, what);
}

/* The base config has 10 lines: EXTRA starts on line 11. */
#define L1	11

static void
test_defaults(void **state)
{
	char		 err[512], want[PATH_MAX + 64];
	struct conf	*c;

	c = load("", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->id, "BE-FPSJ");
	assert_string_equal(c->listen_host, "0.0.0.0");
	assert_string_equal(c->listen_port, "7443");
	assert_int_equal(c->map_size, 1ull << 30);
	assert_int_equal(c->max_frame, 16u << 20);
	assert_int_equal(c->max_connections, 1024);
	assert_int_equal(c->handshake_timeout_ms, 10000);
	assert_int_equal(c->idle_timeout_ms, 300000);
	assert_int_equal(c->skew_warning_ms, 2000);
	assert_int_equal(c->window, 256);
	assert_int_equal(c->retry_initial_ms, 1000);
	assert_int_equal(c->retry_max_ms, 300000);
	assert_int_equal(c->delivery_warning_ms, 300000);
	assert_int_equal(c->retrieve_deadline_ms, 1800000);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_null(c->crl);
	assert_null(c->group);
	assert_null(c->hook);
	assert_int_equal(c->hook_timeout_ms, 30000);
	/* Relative paths are relative to the config file, and absolute. */
	snprintf(want, sizeof(want), "%s/pki/BE-FPSJ.pem", realtmp);
	assert_string_equal(c->cert, want);
	snprintf(want, sizeof(want), "%s/var/store", realtmp);
	assert_string_equal(c->store_path, want);
	snprintf(want, sizeof(want), "%s/directory.conf", realtmp);
	assert_string_equal(c->directory, want);
	snprintf(want, sizeof(want), "%s/c.conf", tmpdir);
	assert_string_equal(c->path, want);
	conf_free(c);
	conf_free(NULL);
}

static void
test_all_keys(void **state)
{
	char		 err[512];
	struct conf	*c;

	c = load("crl = /etc/comity/crl.pem\n"	/* still in [client]: bad */
	    , err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "unknown key \"crl\" in [client]"));

	c = load("group = comity\n"
	    "[listen]\naddress = 127.0.0.1:7501\n"
	    "[urgent]\nhook = /usr/local/bin/page\ndelivery_warning = 2m\n"
	    "retrieve_deadline = 1h\n"
	    "[limits]\nmax_frame = 1M\nmax_connections = 10\n"
	    "handshake_timeout = 250ms\nidle_timeout = 30s\nwindow = 8\n"
	    "skew_warning = 1500ms\n"
	    "[retry]\ninitial = 500ms\nmax = 1m\n"
	    "[log]\nlevel = debug\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->group, "comity");
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_string_equal(c->listen_port, "7501");
	assert_string_equal(c->hook, "/usr/local/bin/page");
	assert_int_equal(c->delivery_warning_ms, 120000);
	assert_int_equal(c->retrieve_deadline_ms, 3600000);
	assert_int_equal(c->max_frame, 1u << 20);
	assert_int_equal(c->max_connections, 10);
	assert_int_equal(c->handshake_timeout_ms, 250);
	assert_int_equal(c->idle_timeout_ms, 30000);
	assert_int_equal(c->window, 8);
	assert_int_equal(c->skew_warning_ms, 1500);
	assert_int_equal(c->retry_initial_ms, 500);
	assert_int_equal(c->retry_max_ms, 60000);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	conf_free(c);

	/* crl lives in [authority] */
	{
		char text[2048];

		snprintf(text, sizeof(text), "%scrl = crl.pem\n%s",
		    base_authority, base_rest);
		c = conf_load(write_file("crl.conf", text), err, sizeof(err));
		if (c == NULL)
			fail_msg("%s", err);
		assert_non_null(strstr(c->crl, "/crl.pem"));
		assert_true(c->crl[0] == '/');
		conf_free(c);
	}
}

/* Every numeric bound: lowest and highest accepted, one past each refused. */
static const struct bound {
	const char	*section;
	const char	*extra;		/* another line in the section */
	const char	*key;
	const char	*lo_ok, *hi_ok, *lo_bad, *hi_bad;
	size_t		 off;
	uint64_t	 lo_val, hi_val;
} bounds[] = {
	{ "store", NULL, "map_size", "1M", "16T", "1048575", "16385G",
	    offsetof(struct conf, map_size), 1ull << 20, 1ull << 44 },
	{ "urgent", NULL, "hook_timeout", "1s", "10m", "999ms", "601s",
	    offsetof(struct conf, hook_timeout_ms), 1000, 600000 },
	{ "urgent", NULL, "delivery_warning", "100ms", "7d", "99ms", "169h",
	    offsetof(struct conf, delivery_warning_ms), 100, 604800000 },
	{ "urgent", NULL, "retrieve_deadline", "100ms", "7d", "99ms", "169h",
	    offsetof(struct conf, retrieve_deadline_ms), 100, 604800000 },
	{ "limits", NULL, "max_frame", "64K", "256M", "65535", "268435457",
	    offsetof(struct conf, max_frame), 65536, 268435456 },
	{ "limits", NULL, "max_connections", "1", "65536", "0", "65537",
	    offsetof(struct conf, max_connections), 1, 65536 },
	{ "limits", NULL, "handshake_timeout", "100ms", "10m", "99ms", "601s",
	    offsetof(struct conf, handshake_timeout_ms), 100, 600000 },
	{ "limits", NULL, "idle_timeout", "1s", "1d", "999ms", "86401s",
	    offsetof(struct conf, idle_timeout_ms), 1000, 86400000 },
	{ "limits", NULL, "window", "1", "4096", "0", "4097",
	    offsetof(struct conf, window), 1, 4096 },
	{ "limits", NULL, "skew_warning", "1ms", "1d", "0ms", "86401s",
	    offsetof(struct conf, skew_warning_ms), 1, 86400000 },
	{ "retry", "max = 1d", "initial", "10ms", "1h", "9ms", "3601s",
	    offsetof(struct conf, retry_initial_ms), 10, 3600000 },
	{ "retry", "initial = 10ms", "max", "10ms", "1d", "9ms", "86401s",
	    offsetof(struct conf, retry_max_ms), 10, 86400000 },
};

static void
test_bounds(void **state)
{
	char	extra[512], err[512];

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		const struct bound *b = &bounds[i];
		const char *vals[4] = { b->lo_ok, b->hi_ok, b->lo_bad,
		    b->hi_bad };

		for (int j = 0; j < 4; j++) {
			struct conf *c;
			/* "[store]" is already in the base: reuse it. */
			int same = strcmp(b->section, "store") == 0;

			snprintf(extra, sizeof(extra), "%s%s%s%s%s%s = %s\n",
			    same ? "" : "[", same ? "" : b->section,
			    same ? "" : "]\n",
			    b->extra ? b->extra : "", b->extra ? "\n" : "",
			    b->key, vals[j]);
			if (same) {
				char text[4096];

				/* put the key inside [store] */
				snprintf(text, sizeof(text), "%s[store]\n"
				    "path = var/store\n%s[client]\n"
				    "socket = s\n", base_authority, extra);
				c = conf_load(write_file("b.conf", text), err,
				    sizeof(err));
			} else
				c = load(extra, err, sizeof(err));
			if (j < 2) {
				if (c == NULL)
					fail_msg("%s = %s refused: %s", b->key,
					    vals[j], err);
				assert_int_equal(*(uint64_t *)((char *)c +
				    b->off), j == 0 ? b->lo_val : b->hi_val);
				conf_free(c);
			} else {
				if (c != NULL)
					fail_msg("%s = %s accepted", b->key,
					    vals[j]);
				if (strstr(err, "out of range") == NULL)
					fail_msg("%s = %s: %s", b->key,
					    vals[j], err);
			}
		}
	}
}

static void
test_errors(void **state)
{
	expect_error_at("[limits]\nwindow = abc\n", L1 + 1,
	    "window: \"abc\" is not a number");
	expect_error_at("[limits]\nwindow = -1\n", L1 + 1, "not a number");
	expect_error_at("[limits]\nwindow = 8 8\n", L1 + 1, "not a number");
	expect_error_at("[limits]\nidle_timeout = 5 minutes\n", L1 + 1,
	    "not a duration");
	expect_error_at("[limits]\nmax_frame = 1MB\n", L1 + 1, "not a size");
	expect_error_at("[log]\nlevel = verbose\n", L1 + 1,
	    "need error, warn, info or debug");
	expect_error_at("[limits]\nwindow = 8\nfoo = 1\n", L1 + 2,
	    "unknown key \"foo\" in [limits]");
	expect_error_at("\n[limitz]\nwindow = 8\n", L1 + 1,
	    "unknown section [limitz]");
	expect_error_at("[limits]\nwindow = 8\n\nwindow = 9\n", L1 + 3,
	    "duplicate key \"window\" in [limits] (first on line 12)");
	expect_error_at("[limits]\nwindow =\n", L1 + 1, "empty value");
	expect_error_at("[limits]\njust some words\n", L1 + 1, "syntax error");
	expect_error_at("[limits\nwindow = 8\n", L1, "syntax error");
	expect_error_at("[limits]\n  window = 8\n", L1 + 1, "indented line");
	expect_error_at("[store]\nmap_size = 2G\n", L1,
	    "section [store] repeated (first on line 7)");
	expect_error_at("[retry]\ninitial = 10s\nmax = 5s\n", L1 + 2,
	    "max (5000ms) is less than initial (10000ms)");
	expect_error_at("[retry]\ninitial = 10m\n", L1 + 1,
	    "is less than initial");
	expect_error_at("[listen]\naddress = 0.0.0.0:0\n", L1 + 1,
	    "port 1-65535");
	expect_error_at("[listen]\naddress = 7443\n", L1 + 1, "host:port");
	expect_error_at("[listen]\naddress = ::1:7443\n", L1 + 1, "host:port");
	expect_error_at("[client]\n", L1, "section [client] repeated");
	expect_error_at("; comment\n# comment\n[listen]\naddress = x:1\n"
	    "address = y:2\n", L1 + 4, "duplicate key \"address\"");
}

static void
test_authority_errors(void **state)
{
	char		 err[512], text[2048], want[PATH_MAX + 16];
	const char	*path;
	struct conf	*c;

	/* A key before any section. */
	snprintf(text, sizeof(text), "id = BE-FPSJ\n%s%s", base_authority,
	    base_rest);
	path = write_file("x.conf", text);
	assert_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1: ", path);
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, "outside a section"));

	/* Invalid id, on line 2. */
	snprintf(text, sizeof(text), "[authority]\nid = be-fpsj\n");
	path = write_file("x.conf", text);
	assert_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: id: \"be-fpsj\" is not an "
	    "authority id", path);
	assert_memory_equal(err, want, strlen(want));

	/* Missing required key: blamed on its section's header line. */
	snprintf(text, sizeof(text), "%s[store]\nmap_size = 2G\n[client]\n"
	    "socket = s\n", base_authority);
	path = write_file("x.conf", text);
	assert_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:7: missing required key \"path\" in "
	    "[store]", path);
	assert_string_equal(err, want);

	/* Missing section: blamed on the last line. */
	snprintf(text, sizeof(text), "%s[store]\npath = s\n", base_authority);
	path = write_file("x.conf", text);
	assert_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:8: missing required key \"socket\" in "
	    "[client]", path);
	assert_string_equal(err, want);

	/* Bad group name. */
	c = load("group = -x\n", err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "not a valid name"));

	/* A file that does not exist. */
	snprintf(want, sizeof(want), "%s/none.conf", tmpdir);
	assert_null(conf_load(want, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

static void
test_long_line(void **state)
{
	char		 line[512], text[4096], err[512], want[PATH_MAX + 64];
	const char	*path;
	struct conf	*c;

	/* A value making the line exactly CONF_LINE_MAX bytes is fine. */
	snprintf(line, sizeof(line), "hook = /%0*d\n",
	    CONF_LINE_MAX - (int)strlen("hook = /"), 0);
	assert_int_equal(strlen(line), CONF_LINE_MAX + 1);
	snprintf(text, sizeof(text), "%s%s[urgent]\n%s", base_authority,
	    base_rest, line);
	c = conf_load(write_file("l.conf", text), err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(strlen(c->hook), CONF_LINE_MAX - strlen("hook = "));
	conf_free(c);

	/* One byte more is refused, before libinih could split it. */
	snprintf(line, sizeof(line), "hook = /%0*d\nk=v\n",
	    CONF_LINE_MAX + 1 - (int)strlen("hook = /"), 0);
	snprintf(text, sizeof(text), "%s%s[urgent]\n%s", base_authority,
	    base_rest, line);
	path = write_file("l.conf", text);
	assert_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:12: line longer than %d bytes", path,
	    CONF_LINE_MAX);
	assert_string_equal(err, want);
	assert_int_equal(conf_check_lines(path, err, sizeof(err)), -1);

	/* A NUL byte would cut the line short in libinih. */
	{
		FILE *fp;

		snprintf(want, sizeof(want), "%s/nul.conf", tmpdir);
		assert_non_null(fp = fopen(want, "w"));
		fputs("[log]\nlevel = info", fp);
		fputc('\0', fp);
		fputs("x\n", fp);
		fclose(fp);
		assert_int_equal(conf_check_lines(want, err, sizeof(err)), -1);
		assert_non_null(strstr(err, ":2: NUL byte"));
	}
}

static void
test_paths(void **state)
{
	char	*p, cwd[PATH_MAX], sub[PATH_MAX], want[PATH_MAX + 64], err[512];
	char	 text[2048];
	struct conf *c;

	p = conf_path_resolve("/etc/comity/comityd.conf", "/abs/cert.pem");
	assert_string_equal(p, "/abs/cert.pem");
	free(p);
	p = conf_path_resolve("/nonexistent-dir/comityd.conf", "pki/ca.pem");
	assert_string_equal(p, "/nonexistent-dir/pki/ca.pem");
	free(p);
	p = conf_path_resolve("/comityd.conf", "ca.pem");
	assert_string_equal(p, "/ca.pem");
	free(p);

	/* A config file named relative to the cwd still yields absolute paths. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(text, sizeof(text), "%s%s", base_authority, base_rest);
	write_file("etc/rel.conf", text);
	assert_int_equal(chdir(tmpdir), 0);
	p = conf_path_resolve("rel.conf", "ca.pem");
	snprintf(want, sizeof(want), "%s/ca.pem", realtmp);
	assert_string_equal(p, want);
	free(p);
	c = conf_load("etc/rel.conf", err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (c == NULL)
		fail_msg("%s", err);
	snprintf(want, sizeof(want), "%s/etc/pki/ca.pem", realtmp);
	assert_string_equal(c->ca, want);
	assert_string_equal(c->path, "etc/rel.conf");
	conf_free(c);
}

static void
test_duration(void **state)
{
	static const struct { const char *s; uint64_t ms; } ok[] = {
		{ "250ms", 250 }, { "10s", 10000 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "1d", 86400000 }, { "7", 7000 },
		{ "0", 0 }, { "0ms", 0 }, { "007s", 7000 },
		{ "18446744073709551615ms", UINT64_MAX },
	};
	static const char *bad[] = { "", "s", "5x", "-1", "+1", "1.5s", " 5s",
	    "5s ", "5 s", "5S", "5sec", "18446744073709551616ms",
	    "18446744073709552s", "213503982334602d", "1d1h" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 42;
		if (conf_parse_duration(ok[i].s, &v) != 0)
			fail_msg("refused %s", ok[i].s);
		assert_int_equal(v, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_parse_duration(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(conf_parse_duration(NULL, &v), -1);
}

static void
test_size(void **state)
{
	static const struct { const char *s; uint64_t b; } ok[] = {
		{ "4096", 4096 }, { "64K", 65536 }, { "16M", 16u << 20 },
		{ "1G", 1ull << 30 }, { "2T", 2ull << 40 }, { "1k", 1024 },
		{ "0", 0 }, { "16777215T", 16777215ull << 40 },
	};
	static const char *bad[] = { "", "K", "1KB", "1KiB", "-1", "1.5M",
	    " 1M", "1M ", "1X", "16777216T", "99999999999999999999" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (conf_parse_size(ok[i].s, &v) != 0)
			fail_msg("refused %s", ok[i].s);
		assert_int_equal(v, ok[i].b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_parse_size(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_hostport(void **state)
{
	static const struct { const char *s, *h, *p; } ok[] = {
		{ "127.0.0.1:7501", "127.0.0.1", "7501" },
		{ "0.0.0.0:1", "0.0.0.0", "1" },
		{ "comity.justice.example:65535", "comity.justice.example",
		    "65535" },
		{ "[::1]:7443", "::1", "7443" },
		{ "[2001:db8::5]:443", "2001:db8::5", "443" },
		{ "[fe80::1%eth0]:7443", "fe80::1%eth0", "7443" },
		{ "host:07443", "host", "7443" },
	};
	static const char *bad[] = { "host:0", "host:65536", "host:", ":7443",
	    "host", "::1:7443", "[::1]7443", "[::1]:", "[]:7443",
	    "[1.2.3.4]:80", "host:+80", "host:-1", "host:80x", "host:8 0",
	    "ho st:80", "host:000080", "[::1:80", "a:b:c" };
	char host[64], port[8];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (conf_split_hostport(ok[i].s, host, sizeof(host), port,
		    sizeof(port)) != 0)
			fail_msg("refused %s", ok[i].s);
		assert_string_equal(host, ok[i].h);
		assert_string_equal(port, ok[i].p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_split_hostport(bad[i], host, sizeof(host), port,
		    sizeof(port)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	/* The host must fit the caller's buffer. */
	assert_int_equal(conf_split_hostport("abcdefgh:1", host, 8, port,
	    sizeof(port)), -1);
	assert_int_equal(conf_split_hostport("abcdefg:1", host, 8, port,
	    sizeof(port)), 0);
}

/* The shipped examples must load. */
static void
test_shipped(void **state)
{
	static const char *files[] = { "conf/comityd.conf",
	    "conf/demo/BE-FPSJ.conf", "conf/demo/KE-ODPP.conf",
	    "conf/demo/FR-DACG.conf" };
	const char	*src = getenv("COMITY_SOURCE_DIR");
	char		 path[PATH_MAX], err[512];

	assert_non_null(src);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct conf *c;

		snprintf(path, sizeof(path), "%s/%s", src, files[i]);
		if ((c = conf_load(path, err, sizeof(err))) == NULL)
			fail_msg("%s", err);
		assert_true(c->cert[0] == '/');
		if (i > 0)
			assert_string_equal(c->listen_host, "127.0.0.1");
		conf_free(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_authority_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_shipped),
	};

	log_init("test_conf", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
