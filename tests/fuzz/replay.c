/*
 * replay.c - main() for the fuzz targets built without libFuzzer: feeds
 * every regular file of the directories (or the files) named on the
 * command line to LLVMFuzzerTestOneInput.  Fails when it ran no input, so
 * a missing corpus is not a pass.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* larger than any seed; libFuzzer runs use -max_len */
#define REPLAY_MAX	(64u << 20)

static int
run_file(const char *path)
{
	struct stat	 st;
	FILE		*fp;
	uint8_t		*buf;
	size_t		 n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1 || st.st_size < 0 ||
	    (uint64_t)st.st_size > REPLAY_MAX) {
		fprintf(stderr, "%s: unreadable or too large\n", path);
		fclose(fp);
		return -1;
	}
	/* an exact-size copy, so reads past the end are caught by ASan */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		fclose(fp);
		return -1;
	}
	n = fread(buf, 1, (size_t)st.st_size, fp);
	fclose(fp);
	if (n != (size_t)st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
run_path(const char *path, int *count)
{
	struct stat	 st;
	struct dirent	*e;
	DIR		*d;
	char		 p[4096];
	int		 rc = 0;

	if (stat(path, &st) == -1) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (run_file(path) == -1)
			return -1;
		(*count)++;
		return 0;
	}
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, e->d_name) >=
		    sizeof(p) || stat(p, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(p) == -1)
			rc = -1;
		else
			(*count)++;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char *argv[])
{
	int count = 0, rc = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) == -1)
			rc = 1;
	printf("replayed %d input(s)\n", count);
	if (count == 0) {
		fprintf(stderr, "no inputs\n");
		return 1;
	}
	return rc;
}
