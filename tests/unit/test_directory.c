/*
 * test_directory.c - the counterpart directory over a PKI made by
 * certs/mkpki: a valid directory, and each kind of bad entry refused with
 * file:line and a precise reason.
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bounds.h"
#include "directory.h"
#include "log.h"
#include "tls.h"

static char	tmpdir[256];
static char	realtmp[PATH_MAX];

static int
setup(void **state)
{
	const char	*src = getenv("COMITY_SOURCE_DIR");
	char		 cmd[PATH_MAX * 2];

	if (src == NULL) {
		fprintf(stderr, "COMITY_SOURCE_DIR is not set\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_directory.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL || realpath(tmpdir, realtmp) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s/certs/mkpki' '%s/pki' BE-FPSJ KE-ODPP "
	    "FR-DACG", src, tmpdir);
	if (system(cmd) != 0)
		return -1;
	/* A certificate with a wrong-case identity, for a bad entry. */
	snprintf(cmd, sizeof(cmd), "'%s/certs/mkpki' --san "
	    "urn:comity:authority:ke-odpp --name lower '%s/pki' KE-ODPP", src,
	    tmpdir);
	if (system(cmd) != 0)
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

static const char *
write_dir(const char *text)
{
	static char	path[PATH_MAX];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/directory.conf", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* pin_of - hex SHA-256 of the SPKI of pki/ID.pem, computed here */
static void
pin_of(const char *id, char hex[65])
{
	char		 path[PATH_MAX];
	unsigned char	*der = NULL, md[32];
	unsigned int	 mdlen;
	X509		*x;
	FILE		*fp;
	int		 len;

	snprintf(path, sizeof(path), "%s/pki/%s.pem", tmpdir, id);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(x = PEM_read_X509(fp, NULL, NULL, NULL));
	fclose(fp);
	assert_true((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
	X509_free(x);
}

static const char *entry_be =
    "[BE-FPSJ]\n"
    "name = Belgium FPS Justice\n"
    "endpoint = 127.0.0.1:7501\n"
    "cert = pki/BE-FPSJ.pem\n"
    "accepts = mla, extradition\n";

/* expect_error - TEXT is refused at LINE with a reason containing WHAT */
static void
expect_error(const char *text, int line, const char *what)
{
	char			 err[1024], want[PATH_MAX];
	struct directory	*d;
	const char		*path = write_dir(text);

	err[0] = '\0';
	d = directory_load(path, err, sizeof(err));
	if (d != NULL)
		fail_msg("accepted:\n%s", text);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, what) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", err, want, what);
}

static void
test_valid(void **state)
{
	char			 text[4096], pin[65], err[1024], want[PATH_MAX + 32];
	struct directory	*d;
	const struct dir_entry	*e;

	pin_of("KE-ODPP", pin);
	/* Deliberately out of order: entries come back sorted by id. */
	snprintf(text, sizeof(text),
	    "# comment\n"
	    "[KE-ODPP]\n"
	    "name = Office of the Director of Public Prosecutions\n"
	    "endpoint = 127.0.0.1:7502\n"
	    "cert = pki/KE-ODPP.pem\n"
	    "pin = %s\n"
	    "accepts = mla, extradition, confiscation, jit, mla\n"
	    "languages = en, sw\n"
	    "timezone = Africa/Nairobi\n"
	    "hours = Mon-Fri 08:00-17:00\n"
	    "urgent = 24/7 duty prosecutor, +254 20 000 0000\n"
	    "\n"
	    "[FR-DACG]\n"
	    "name = France DACG\n"
	    "endpoint = [::1]:7503\n"
	    "cert = %s/pki/FR-DACG.pem\n"
	    "accepts = transfer_of_sentenced_persons,other\n"
	    "%s", pin, tmpdir, entry_be);
	d = directory_load(write_dir(text), err, sizeof(err));
	if (d == NULL)
		fail_msg("%s", err);
	assert_int_equal(d->n, 3);
	assert_string_equal(d->entries[0].id, "BE-FPSJ");
	assert_string_equal(d->entries[1].id, "FR-DACG");
	assert_string_equal(d->entries[2].id, "KE-ODPP");

	assert_non_null(e = directory_find(d, "KE-ODPP"));
	assert_ptr_equal(e, &d->entries[2]);
	assert_string_equal(e->name,
	    "Office of the Director of Public Prosecutions");
	assert_string_equal(e->endpoint, "127.0.0.1:7502");
	assert_string_equal(e->host, "127.0.0.1");
	assert_string_equal(e->port, "7502");
	snprintf(want, sizeof(want), "%s/pki/KE-ODPP.pem", realtmp);
	assert_string_equal(e->cert_path, want);
	assert_non_null(e->cert);
	assert_true(e->has_pin);
	{
		unsigned char spki[32];

		assert_int_equal(tls_spki_sha256(e->cert, spki), 0);
		assert_memory_equal(spki, e->pin, 32);
	}
	assert_int_equal(e->accepts, (1u << 1) | (1u << 2) | (1u << 3) |
	    (1u << 5));
	assert_string_equal(e->accepts_text,
	    "mla, extradition, confiscation, joint_investigation");
	assert_string_equal(e->languages, "en, sw");
	assert_string_equal(e->timezone, "Africa/Nairobi");
	assert_string_equal(e->hours, "Mon-Fri 08:00-17:00");
	assert_string_equal(e->urgent, "24/7 duty prosecutor, +254 20 000 0000");

	assert_non_null(e = directory_find(d, "FR-DACG"));
	assert_string_equal(e->host, "::1");
	assert_string_equal(e->port, "7503");
	assert_false(e->has_pin);
	assert_int_equal(e->accepts, (1u << 4) | (1u << 6));
	assert_string_equal(e->accepts_text, "transfer, other");
	/* Optional text keys left out read as empty strings. */
	assert_string_equal(e->languages, "");
	assert_string_equal(e->urgent, "");

	assert_non_null(e = directory_find(d, "BE-FPSJ"));
	assert_string_equal(e->name, "Belgium FPS Justice");

	assert_null(directory_find(d, "DE-BFJ"));
	assert_null(directory_find(d, "KE-ODP"));
	assert_null(directory_find(d, "KE-ODPPX"));
	assert_null(directory_find(d, ""));
	assert_null(directory_find(NULL, "KE-ODPP"));
	directory_free(d);
	directory_free(NULL);
}

static void
test_accepts_default(void **state)
{
	char			 err[1024];
	struct directory	*d;

	d = directory_load(write_dir(
	    "[BE-FPSJ]\nname = B\nendpoint = h:1\ncert = pki/BE-FPSJ.pem\n"),
	    err, sizeof(err));
	if (d == NULL)
		fail_msg("%s", err);
	/* Nothing declared: every request type. */
	assert_int_equal(d->entries[0].accepts, 0x7e);
	assert_string_equal(d->entries[0].accepts_text, "mla, extradition, "
	    "confiscation, transfer, joint_investigation, other");
	directory_free(d);
}

static void
test_bad_id(void **state)
{
	expect_error("[be-fpsj]\nname = x\n", 2,
	    "[be-fpsj]: not a valid authority id");
	expect_error("[B-FPSJ]\nname = x\n", 2, "not a valid authority id");
	expect_error("[BE-]\nname = x\n", 2, "not a valid authority id");
	expect_error("[BE--X]\nname = x\n", 2, "not a valid authority id");
	expect_error("[BE-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456]\nname = x\n", 2,
	    "not a valid authority id");
	expect_error("name = x\n[BE-FPSJ]\n", 1, "outside an [ID] section");
}

static void
test_san_mismatch(void **state)
{
	char text[1024];

	/* KE-ODPP's entry pointing at FR-DACG's certificate. */
	expect_error("[KE-ODPP]\nname = K\nendpoint = h:1\n"
	    "cert = pki/FR-DACG.pem\n", 4, "names FR-DACG, not KE-ODPP");
	/* A certificate whose URI is lower case. */
	expect_error("[KE-ODPP]\nname = K\nendpoint = h:1\n"
	    "cert = pki/lower.pem\n", 4, "invalid authority id");
	expect_error("[KE-ODPP]\nname = K\nendpoint = h:1\n"
	    "cert = pki/none.pem\n", 4, "No such file");
	/* Not a certificate at all (the key file). */
	snprintf(text, sizeof(text), "[KE-ODPP]\nname = K\nendpoint = h:1\n"
	    "cert = %s/directory.conf\n", tmpdir);
	expect_error(text, 4, "no PEM certificate");
}

static void
test_bad_pin(void **state)
{
	char	text[1024], pin[65];
	static const char *bad[] = {
		/* 63 digits */
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
		/* 65 digits */
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		/* a non-hex digit */
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
		/* separators */
		"01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab",
		"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%spin = %s\n", entry_be, bad[i]);
		expect_error(text, 6, "pin: need 64 hex digits");
	}
	/* Upper case hex is fine. */
	pin_of("BE-FPSJ", pin);
	for (char *p = pin; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(text, sizeof(text), "%spin = %s\n", entry_be, pin);
	{
		char err[1024];
		struct directory *d = directory_load(write_dir(text), err,
		    sizeof(err));

		if (d == NULL)
			fail_msg("%s", err);
		assert_true(d->entries[0].has_pin);
		directory_free(d);
	}
}

static void
test_bad_accepts(void **state)
{
	expect_error("[BE-FPSJ]\nname = B\naccepts = mla, piracy\n", 3,
	    "unknown request type \"piracy\"");
	expect_error("[BE-FPSJ]\nname = B\naccepts = MLA\n", 3,
	    "unknown request type \"MLA\"");
	expect_error("[BE-FPSJ]\nname = B\naccepts = mla,,other\n", 3,
	    "accepts: empty item");
	expect_error("[BE-FPSJ]\nname = B\naccepts = mla, mla, mla, mla, mla, "
	    "mla, mla, mla, mla\n", 3, "more than 8 items");
}

static void
test_structure(void **state)
{
	char text[2048];

	expect_error("[BE-FPSJ]\nname = B\nendpoint = h:1\n", 1,
	    "[BE-FPSJ]: missing key \"cert\"");
	snprintf(text, sizeof(text), "%s\n%s", entry_be, entry_be);
	expect_error(text, 7, "authority [BE-FPSJ] listed twice (first on "
	    "line 1)");
	snprintf(text, sizeof(text), "%sname = again\n", entry_be);
	expect_error(text, 6, "[BE-FPSJ]: duplicate key \"name\" (first on "
	    "line 2)");
	snprintf(text, sizeof(text), "%sfax = +32 2 000\n", entry_be);
	expect_error(text, 6, "[BE-FPSJ]: unknown key \"fax\"");
	snprintf(text, sizeof(text), "%shours =\n", entry_be);
	expect_error(text, 6, "empty value for \"hours\"");
	snprintf(text, sizeof(text), "%s  urgent = call\n", entry_be);
	expect_error(text, 6, "indented line");
	snprintf(text, sizeof(text), "[KE-ODPP]\n\n%s", entry_be);
	expect_error(text, 1, "[KE-ODPP]: section without keys");
	snprintf(text, sizeof(text), "%s[KE-ODPP]\n", entry_be);
	expect_error(text, 6, "[KE-ODPP]: section without keys");
	snprintf(text, sizeof(text), "%s[KE-ODPP\n", entry_be);
	expect_error(text, 6, "no ']'");
	snprintf(text, sizeof(text), "%sjust words\n", entry_be);
	expect_error(text, 6, "syntax error");
	expect_error("# nothing\n\n", 2, "no authorities listed");

	/* Endpoints. */
	expect_error("[BE-FPSJ]\nendpoint = h:0\n", 2, "endpoint \"h:0\"");
	expect_error("[BE-FPSJ]\nendpoint = ::1:7501\n", 2, "host:port");
	expect_error("[BE-FPSJ]\nendpoint = h\n", 2, "host:port");

	/* Over-long line. */
	snprintf(text, sizeof(text), "%surgent = %0*d\n", entry_be,
	    CONF_LINE_MAX, 0);
	expect_error(text, 6, "line longer than");
}

/* Time zones and office hours are checked at load (see hours.h). */
static void
test_office(void **state)
{
	char			 text[2048], err[1024], dir[PATH_MAX + 16];
	struct directory	*d;

	/* valid: the grammar's forms, a +05:45 zone */
	snprintf(text, sizeof(text), "%stimezone = Asia/Kathmandu\n"
	    "hours = Sun-Fri 10:00-13:00,14:00-17:00; Sat 22:00-02:00\n",
	    entry_be);
	d = directory_load(write_dir(text), err, sizeof(err));
	if (d == NULL)
		fail_msg("refused: %s", err);
	assert_string_equal(d->entries[0].timezone, "Asia/Kathmandu");
	assert_string_equal(d->entries[0].hours,
	    "Sun-Fri 10:00-13:00,14:00-17:00; Sat 22:00-02:00");
	directory_free(d);

	/* libinih would cut the value at " ;": refused, not shortened */
	snprintf(text, sizeof(text), "%stimezone = Asia/Kathmandu\n"
	    "hours = Sun-Fri 10:00-17:00 ; Sat 10:00-12:00\n", entry_be);
	expect_error(text, 7, "a blank before ';' starts a comment");
	snprintf(text, sizeof(text), "%stimezone = Asia/Kathmandu\n"
	    "hours = Sun-Fri 10:00-17:00\t;Sat 10:00-12:00\n", entry_be);
	expect_error(text, 7, "a blank before ';' starts a comment");
	snprintf(text, sizeof(text), "%stimezone = UTC\nhours = 24/7\n",
	    entry_be);
	d = directory_load(write_dir(text), err, sizeof(err));
	if (d == NULL)
		fail_msg("refused: %s", err);
	directory_free(d);

	/* hours that do not parse: refused at their line, with the reason */
	snprintf(text, sizeof(text), "%stimezone = Europe/Brussels\n"
	    "hours = Mon-Fri 08:30-17:00 and Sat mornings\n", entry_be);
	expect_error(text, 7, "[BE-FPSJ]: hours: expected \";\" or the end "
	    "at \"and\"");
	snprintf(text, sizeof(text), "%shours = Mon-Fri 25:00-26:00\n"
	    "timezone = Europe/Brussels\n", entry_be);
	expect_error(text, 6, "[BE-FPSJ]: hours: expected a time span");
	snprintf(text, sizeof(text), "%shours = weekdays\n"
	    "timezone = Europe/Brussels\n", entry_be);
	expect_error(text, 6, "expected a day (Mon..Sun)");
	/* hours need a time zone to be read in */
	snprintf(text, sizeof(text), "%shours = Mon-Fri 08:00-17:00\n",
	    entry_be);
	expect_error(text, 6, "[BE-FPSJ]: hours without a timezone");

	/* time zones: a name, and one the tz database knows */
	snprintf(text, sizeof(text), "%stimezone = +03:00\n", entry_be);
	expect_error(text, 6, "not an IANA time zone name");
	snprintf(text, sizeof(text), "%stimezone = ../../etc/passwd\n",
	    entry_be);
	expect_error(text, 6, "not an IANA time zone name");
	snprintf(text, sizeof(text), "%stimezone = Europe/Bruxelles\n",
	    entry_be);
	expect_error(text, 6, "timezone Europe/Bruxelles: not in the tz "
	    "database");
	snprintf(text, sizeof(text), "%stimezone = Europe\n", entry_be);
	expect_error(text, 6, "is not a tz database file");

	/* no tz database at all: names are only checked for their shape */
	snprintf(dir, sizeof(dir), "%s/no-tzdata", tmpdir);
	assert_int_equal(setenv("TZDIR", dir, 1), 0);
	snprintf(text, sizeof(text), "%stimezone = Europe/Bruxelles\n",
	    entry_be);
	d = directory_load(write_dir(text), err, sizeof(err));
	unsetenv("TZDIR");
	if (d == NULL)
		fail_msg("refused without a tz database: %s", err);
	directory_free(d);
}

static void
test_id_valid(void **state)
{
	static const char *ok[] = { "BE-FPSJ", "KE-ODPP", "FR-DACG", "AB-C",
	    "AB-0", "AB-C-", "AB-X-Y-Z", "AB-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" };
	static const char *bad[] = { "", "A", "AB", "AB-", "ab-FPSJ", "Ab-X",
	    "AB_X", "ABX", "A1-X", "AB--X", "AB-x", "AB-X Y", "AB-X/",
	    "AB-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "1B-X" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!id_valid(ok[i], strlen(ok[i])))
			fail_msg("refused %s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (id_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted \"%s\"", bad[i]);
	/* Exactly len bytes: an embedded NUL or a longer buffer counts. */
	assert_false(id_valid("BE-FPSJ\0X", 9));
	assert_true(id_valid("BE-FPSJ/x", 7));
	assert_false(id_valid("BE-FPSJ", 8));
	assert_false(id_valid(NULL, 0));
}

static void
test_types(void **state)
{
	assert_int_equal(type_from_name("mla"), 1);
	assert_int_equal(type_from_name("extradition"), 2);
	assert_int_equal(type_from_name("confiscation"), 3);
	assert_int_equal(type_from_name("transfer"), 4);
	assert_int_equal(type_from_name("transfer_of_sentenced_persons"), 4);
	assert_int_equal(type_from_name("joint_investigation"), 5);
	assert_int_equal(type_from_name("jit"), 5);
	assert_int_equal(type_from_name("other"), 6);
	assert_int_equal(type_from_name("unspecified"), -1);
	assert_int_equal(type_from_name("Mla"), -1);
	assert_int_equal(type_from_name(""), -1);
	assert_string_equal(type_name(1), "mla");
	assert_string_equal(type_name(4), "transfer");
	assert_string_equal(type_name(5), "joint_investigation");
	assert_string_equal(type_name(6), "other");
	assert_string_equal(type_name(0), "unspecified");
	assert_string_equal(type_name(7), "unspecified");
	assert_string_equal(type_name(-1), "unspecified");
	for (int t = 1; t <= 6; t++)
		assert_int_equal(type_from_name(type_name(t)), t);
}

/* The shipped demo directory loads against a demo PKI. */
static void
test_demo(void **state)
{
	const char		*src = getenv("COMITY_SOURCE_DIR");
	char			 path[PATH_MAX], cmd[PATH_MAX * 2], err[1024];
	struct directory	*d;

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/demo' && cp "
	    "'%s/conf/demo/directory.conf' '%s/demo/' && ln -s ../pki "
	    "'%s/demo/pki'", tmpdir, src, tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/demo/directory.conf", tmpdir);
	if ((d = directory_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(d->n, 3);
	assert_string_equal(directory_find(d, "KE-ODPP")->name,
	    "Kenya Office of the Director of Public Prosecutions");
	directory_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_accepts_default),
		cmocka_unit_test(test_bad_id),
		cmocka_unit_test(test_san_mismatch),
		cmocka_unit_test(test_bad_pin),
		cmocka_unit_test(test_bad_accepts),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_office),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_demo),
	};

	log_init("test_directory", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
