/*
 * fuzz_conf.c - the two INI readers: the input, written to a file, is
 * read as a comityd.conf (conf_load) and as a directory file
 * (directory_load).  Both go through libinih and schema tables.
 *
 * Beyond "no crash, no leak, no UB": a refusal always says why, on one
 * line that names the file; an accepted configuration has every required
 * key set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "directory.h"
#include "fuzz.h"
#include "log.h"

#define FUZZ_CONF_MAX	(64 * 1024)

static char	path[64];

static void
cleanup(void)
{
	if (path[0] != '\0')
		unlink(path);
}

static void
check_err(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n') != NULL ||
	    strncmp(err, path, strlen(path)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf		*c;
	struct directory	*d;
	FILE			*fp;
	char			 err[1024];
	int			 fd;

	if (size > FUZZ_CONF_MAX)
		return 0;
	if (path[0] == '\0') {
		const char *tmp = getenv("TMPDIR");

		snprintf(path, sizeof(path), "%s/comity-fuzz-conf.XXXXXX",
		    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
		atexit(cleanup);
		log_init("fuzz_conf", LOG_LVL_ERROR);
	}
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	if (fclose(fp) != 0)
		abort();

	err[0] = '\0';
	if ((c = conf_load(path, err, sizeof(err))) == NULL)
		check_err(err);
	else {
		if (c->id == NULL || c->cert == NULL || c->key == NULL ||
		    c->ca == NULL || c->directory == NULL ||
		    c->store_path == NULL || c->socket == NULL)
			abort();
		conf_free(c);
	}
	err[0] = '\0';
	if ((d = directory_load(path, err, sizeof(err))) == NULL)
		check_err(err);
	else {
		for (size_t i = 0; i < d->n; i++)
			if (d->entries[i].id == NULL ||
			    d->entries[i].cert == NULL)
				abort();
		directory_free(d);
	}
	return 0;
}
