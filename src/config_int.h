/* config_int.h: what the config_*.c files share: the schema table (config.c), value
 * conversion and range checks (config_value.c), used by the YAML reader (config_yaml.c), the
 * validation (config.c) and the writers (config_write.c). Not part of the public API. */
#ifndef CLTRAIN_CONFIG_INT_H
#define CLTRAIN_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum { T_INT, T_INT64, T_NUM, T_BOOL, T_STR, T_ENUM, T_NUMS, T_NAMES };
enum {
    F_NULLABLE = 1, /* null / empty value allowed, stored as "" */
    F_EVEN = 2,     /* integer must be even */
    F_NONEMPTY = 4, /* string must not be empty */
    F_FILENAME = 8  /* string becomes part of a file name: no '/', '\\', control characters */
};

typedef struct {
    const char *section; /* NULL for a top-level key */
    const char *key;
    int type;
    int flags;
    size_t offset;
    int64_t ilo, ihi; /* T_INT, T_INT64 */
    double dlo, dhi;  /* T_NUM; -INFINITY / INFINITY when unbounded (values must be finite) */
    int lo_open, hi_open;
    const char *note; /* appended to the description of allowed values */
    /* T_NUMS (number or list; offset = the number): list length, list, where it was given;
     * T_NAMES (offset = the names): count, where */
    size_t off_n, off_list, off_where;
} field;

extern const field cfg_fields[];
extern const size_t cfg_nfields;
extern const char *const cfg_sections[];
extern const char *const cfg_optimizer_choices[];
/* array bounds for per-key bookkeeping (config.c checks the table fits) */
#define CFG_MAX_FIELDS 128
#define CFG_MAX_SECTIONS 32

#define TAG_PREFIX "tag:yaml.org,2002:"

/* One scalar as libyaml gives it. */
typedef struct {
    const char *text;
    size_t len;
    int plain;       /* plain style (unquoted, not a block scalar) */
    const char *tag; /* explicit tag or NULL */
} scalar;

/* config.c: names and hints */
void cfg_show_n(const char *s, size_t len, size_t lim, char *buf, size_t cap);
void cfg_show(const char *s, size_t len, char *buf, size_t cap);
int cfg_name_eq(const char *name, const char *s, size_t len);
int cfg_find_section(const char *s, size_t len);
int cfg_find_field(int section, const char *s, size_t len);
void cfg_unknown_hint(int section, const char *s, size_t len, char *buf, size_t cap);

/* config_value.c: what a field accepts, range checks, scalar conversion */
void cfg_describe(const field *f, char *buf, size_t cap);
int cfg_check_int(const field *f, int64_t v, char *msg, size_t cap);
int cfg_check_num(const field *f, double v, const char *text, char *msg, size_t cap);
int cfg_check_str(const field *f, const char *s, size_t len, char *msg, size_t cap);
int cfg_is_null_text(const char *s, size_t len);
int cfg_assign_scalar(const field *f, const scalar *sc, void *base, char *msg, size_t cap);

#endif
