/*
 * output.h - how the comity CLI shows things: text lines and JSON Lines,
 * and the time formats it reads and writes.
 *
 * Strings from counterparts may hold any bytes.  Nothing here drops a
 * byte: in JSON an invalid UTF-8 byte becomes the text "\xNN"; in text
 * mode control characters are shown the same way, so a peer cannot send
 * escape sequences to a terminal.  No I/O but the FILE given.
 */
#ifndef COMITY_OUTPUT_H
#define COMITY_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "comity.h"

/*
 * out_escape - a copy of S that is valid UTF-8: each byte that is not
 * part of a well-formed sequence becomes "\xNN" (lower-case hex); with
 * CONTROLS set, C0 controls and DEL become "\xNN" too.  Returns a
 * malloc'd string (caller frees), or NULL when out of memory.
 */
char	*out_escape(const char *s, int controls);

/* out_jstr - a JSON string of S escaped as above (new reference); an
 * out-of-memory failure yields NULL, which jansson's setters refuse */
json_t	*out_jstr(const char *s);
/* out_jtime - RFC 3339 UTC string of NS, or JSON null when NS is 0 */
json_t	*out_jtime(int64_t ns);

/*
 * out_time - NS as RFC 3339 UTC with milliseconds
 * ("2026-11-24T19:07:29.123Z") into BUF; "-" when NS is 0.
 */
#define OUT_TIME_LEN	32
void	 out_time(int64_t ns, char buf[OUT_TIME_LEN]);
/* out_age - a duration in ns as "3d4h", "2h5m", "4m12s", "850ms" */
void	 out_age(int64_t ns, char *buf, size_t len);
/*
 * out_time_ns - NS as RFC 3339 UTC with nanoseconds
 * ("2026-11-24T19:07:29.123456789Z"), 0 included, into BUF.
 */
#define OUT_TIME_NS_LEN	40
void	 out_time_ns(int64_t ns, char buf[OUT_TIME_NS_LEN]);
/* out_duration - a duration in ns to the precision that matters:
 * "850us", "12.345ms", "4.250s", then as out_age() ("4m12s") */
void	 out_duration(int64_t ns, char *buf, size_t len);

/*
 * out_parse_duration - "90s", "5m", "2h", "1d", "1w" (a bare number is
 * seconds; units may be combined: "1h30m") -> ns.  Returns 0 or -1.
 */
int	 out_parse_duration(const char *s, int64_t *ns);
/*
 * out_parse_time - RFC 3339 ("2026-11-24T19:07:29Z", fraction and offset
 * optional: "2026-11-24T21:07:29.5+02:00"), a date ("2026-11-24", UTC
 * midnight), or a duration meaning that long before NOW.  Returns 0 or -1.
 */
int	 out_parse_time(const char *s, int64_t now, int64_t *ns);

/*
 * out_name_problem - why NAME (a document name a counterpart chose) is not
 * a safe file name: empty, longer than 255 bytes, containing '/', "..",
 * or starting with '.'; NULL when it is safe.  A static string.
 */
const char *out_name_problem(const char *name);

/* out_item_json - an item as a JSON object (new reference, NULL if out
 * of memory) */
json_t	*out_item_json(const struct comity_item *);
/* out_request_json - a fetched request's header and document list (with
 * SHA256 the hex digests of the documents, in order, or NULL) */
json_t	*out_request_json(const struct comity_request *,
	    const char *const *sha256);

/* out_line - print OBJ compactly on one line of FP and drop the
 * reference; returns 0, or -1 when it could not be encoded or written */
int	 out_line(FILE *fp, json_t *obj);

/* out_item_header, out_item_row - the aligned text listing of a box */
void	 out_item_header(FILE *fp, int box);
void	 out_item_row(FILE *fp, const struct comity_item *);
/* out_item_text - the full status of one item, one field a line */
void	 out_item_text(FILE *fp, const struct comity_item *);
/* out_text - print S escaped for a terminal (no newline) */
void	 out_text(FILE *fp, const char *s);

#endif /* COMITY_OUTPUT_H */
