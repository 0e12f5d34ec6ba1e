/* config_value.c: one config value: what a key accepts in words, the range checks shared by
 * loading, --set and validation, and the conversion of a YAML scalar (YAML 1.2 core schema,
 * strict; see config.h) into the struct. */
#define _POSIX_C_SOURCE 200809L
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a field accepts, in words. */
void cfg_describe(const field *f, char *buf, size_t cap)
{
    size_t o = 0;
    switch (f->type) {
    case T_INT:
    case T_INT64: {
        const char *kind = (f->flags & F_EVEN) ? "an even integer" : "an integer";
        int64_t top = f->type == T_INT ? INT_MAX : INT64_MAX;
        if (f->ihi >= top)
            o = (size_t)snprintf(buf, cap, "%s >= %" PRId64, kind, f->ilo);
        else
            o = (size_t)snprintf(buf, cap, "%s in [%" PRId64 ", %" PRId64 "]", kind, f->ilo, f->ihi);
        break;
    }
    case T_NUMS:
    case T_NUM:
        if (isinf(f->dlo) && isinf(f->dhi))
            o = (size_t)snprintf(buf, cap, "a finite number");
        else if (isinf(f->dhi))
            o = (size_t)snprintf(buf, cap, "a finite number %s %g", f->lo_open ? ">" : ">=", f->dlo);
        else
            o = (size_t)snprintf(buf, cap, "a number in %c%g, %g%c", f->lo_open ? '(' : '[', f->dlo, f->dhi,
                                 f->hi_open ? ')' : ']');
        break;
    case T_BOOL:
        o = (size_t)snprintf(buf, cap, "a boolean: true or false (also yes/no, on/off)");
        break;
    case T_ENUM:
        o = (size_t)snprintf(buf, cap, "one of adam, sgd (any letter case)");
        break;
    case T_NAMES:
        o = (size_t)snprintf(buf, cap, "a list of 1 to %d non-empty names of at most %d bytes, one per class; empty, "
                             "[] or null = none", CT_CONFIG_MAX_CLASSES, CT_CONFIG_CLASS_NAME_MAX - 1);
        break;
    case T_STR:
        o = (size_t)snprintf(buf, cap, "%s of at most %d bytes%s", (f->flags & F_NONEMPTY) ? "a non-empty string" : "a string",
                             CT_CONFIG_STR_MAX - 1,
                             (f->flags & F_FILENAME) ? " without '/', '\\' or control characters" : "");
        if (f->flags & F_NULLABLE && o < cap) o += (size_t)snprintf(buf + o, cap - o, "; empty or null = none");
        break;
    }
    if (f->type == T_NUMS && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, ", or a list of 1 to %d such numbers (one per channel)",
                              CT_CONFIG_MAX_CHANNELS);
    if (f->note && o < cap) snprintf(buf + o, cap - o, " (%s)", f->note);
}

/* Range checks shared by parsing and ct_config_validate; 0 = fine, else msg is set. */
int cfg_check_int(const field *f, int64_t v, char *msg, size_t cap)
{
    char allowed[256];
    if (v >= f->ilo && v <= f->ihi && !((f->flags & F_EVEN) && v % 2 != 0)) return 0;
    cfg_describe(f, allowed, sizeof allowed);
    snprintf(msg, cap, "%" PRId64 " is %s; allowed: %s", v, (v >= f->ilo && v <= f->ihi) ? "odd" : "out of range",
             allowed);
    return -1;
}

int cfg_check_num(const field *f, double v, const char *text, char *msg, size_t cap)
{
    int ok = isfinite(v) && (f->lo_open ? v > f->dlo : v >= f->dlo) && (f->hi_open ? v < f->dhi : v <= f->dhi);
    if (ok) return 0;
    char allowed[256], shown[64];
    cfg_describe(f, allowed, sizeof allowed);
    if (text)
        snprintf(shown, sizeof shown, "%s", text);
    else if (isnan(v))
        snprintf(shown, sizeof shown, ".nan");
    else if (isinf(v))
        snprintf(shown, sizeof shown, v > 0 ? ".inf" : "-.inf");
    else
        snprintf(shown, sizeof shown, "%.17g", v);
    snprintf(msg, cap, "%s is %s; allowed: %s", shown, isfinite(v) ? "out of range" : "not finite", allowed);
    return -1;
}

int cfg_check_str(const field *f, const char *s, size_t len, char *msg, size_t cap)
{
    char allowed[256];
    cfg_describe(f, allowed, sizeof allowed);
    if (len >= CT_CONFIG_STR_MAX) {
        snprintf(msg, cap, "string is too long (%zu bytes); allowed: %s", len, allowed);
        return -1;
    }
    if (memchr(s, 0, len)) {
        snprintf(msg, cap, "string contains a NUL byte; allowed: %s", allowed);
        return -1;
    }
    if ((f->flags & F_NONEMPTY) && len == 0) {
        snprintf(msg, cap, "must not be empty; allowed: %s", allowed);
        return -1;
    }
    if (f->flags & F_FILENAME) {
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f) {
                char sh[64];
                cfg_show(s, len, sh, sizeof sh);
                snprintf(msg, cap, "'%s' cannot be part of a file name; allowed: %s", sh, allowed);
                return -1;
            }
        }
        if (cfg_name_eq(".", s, len) || cfg_name_eq("..", s, len)) {
            snprintf(msg, cap, "'%.*s' cannot be a file name; allowed: %s", (int)len, s, allowed);
            return -1;
        }
    }
    return 0;
}

/* Plain YAML integer: [-+]?[0-9]+ without a leading zero. */
static int parse_int(const char *s, size_t len, int64_t *out, char *why, size_t cap)
{
    char buf[64];
    size_t i = 0;
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (buf[0] == '-' || buf[0] == '+') i = 1;
    if (buf[i] == 0) goto bad;
    for (size_t j = i; buf[j]; j++)
        if (!isdigit((unsigned char)buf[j])) goto bad;
    if (buf[i] == '0' && buf[i + 1]) {
        snprintf(why, cap, "'%s' has a leading zero (YAML 1.1 reads that as octal)", buf);
        return -1;
    }
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) {
        snprintf(why, cap, "'%s' overflows a 64-bit integer", buf);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
bad:
    why[0] = 0; /* not an integer at all: the caller reports the type mismatch */
    return -1;
}

/* Plain YAML number: decimal integer or float, or .inf / -.inf / .nan in YAML's spellings. */
static int parse_num(const char *s, size_t len, double *out, char *why, size_t cap)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    const char *p = buf;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (p == buf && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
        *out = NAN;
        return 0;
    }
    /* digits* ['.' digits*] with at least one digit, then optional exponent */
    size_t digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) goto bad;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!isdigit((unsigned char)*p)) goto bad;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) goto bad;
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE && isinf(v)) {
        snprintf(why, cap, "'%s' overflows a double", buf);
        return -1;
    }
    *out = v; /* underflow to (sub)normal or zero is accepted */
    return 0;
bad:
    why[0] = 0;
    return -1;
}

int cfg_is_null_text(const char *s, size_t len)
{
    return len == 0 || cfg_name_eq("~", s, len) || cfg_name_eq("null", s, len) || cfg_name_eq("Null", s, len) ||
           cfg_name_eq("NULL", s, len);
}

static int parse_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (cfg_name_eq(yes[i], s, len)) return *out = true, 0;
        if (cfg_name_eq(no[i], s, len)) return *out = false, 0;
    }
    return -1;
}


/* Converts a scalar for field f and stores it at base + f->offset. On failure writes the
 * message (without location) into msg and stores nothing. */
int cfg_assign_scalar(const field *f, const scalar *sc, void *base, char *msg, size_t cap)
{
    char allowed[256], sh[64], why[160];
    cfg_describe(f, allowed, sizeof allowed);
    cfg_show(sc->text, sc->len, sh, sizeof sh);
    void *dst = (char *)base + f->offset;

    /* An explicit tag decides the type; without one, quoting makes a string. */
    int is_null = sc->plain && cfg_is_null_text(sc->text, sc->len);
    int as_string = !sc->plain;
    if (sc->tag && strcmp(sc->tag, "!") != 0) {
        const char *t = strncmp(sc->tag, TAG_PREFIX, strlen(TAG_PREFIX)) ? NULL : sc->tag + strlen(TAG_PREFIX);
        int fits = 0;
        if (t && !strcmp(t, "null"))
            fits = 1, is_null = 1;
        else if (t && !strcmp(t, "str"))
            fits = f->type == T_STR || f->type == T_ENUM, as_string = 1, is_null = 0;
        else if (t && !strcmp(t, "int"))
            fits = f->type == T_INT || f->type == T_INT64 || f->type == T_NUM || f->type == T_NUMS, as_string = 0,
            is_null = 0;
        else if (t && !strcmp(t, "float"))
            fits = f->type == T_NUM || f->type == T_NUMS, as_string = 0, is_null = 0;
        else if (t && !strcmp(t, "bool"))
            fits = f->type == T_BOOL, as_string = 0, is_null = 0;
        if (!fits) {
            snprintf(msg, cap, "expected %s, got a value tagged '%s'", allowed, sc->tag);
            return -1;
        }
    } else if (sc->tag) {
        as_string = 1, is_null = 0; /* "!" = non-specific tag: a string */
    }

    if (f->type == T_NAMES && !is_null) {
        snprintf(msg, cap, "expected %s, got '%s' (write the names as a list: [name1, name2, ...])", allowed, sh);
        return -1;
    }
    if (is_null) {
        if (f->type == T_NAMES) {
            *(int *)((char *)base + f->off_n) = 0;
            return 0;
        }
        if (f->flags & F_NULLABLE) {
            ((char *)dst)[0] = 0;
            return 0;
        }
        snprintf(msg, cap, "expected %s, got an empty value (null)", allowed);
        return -1;
    }
    if (as_string && f->type != T_STR && f->type != T_ENUM) {
        snprintf(msg, cap, "expected %s, got the quoted string '%s' (write it without quotes)", allowed, sh);
        return -1;
    }

    switch (f->type) {
    case T_BOOL: {
        bool b;
        if (parse_bool(sc->text, sc->len, &b)) {
            snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        *(bool *)dst = b;
        return 0;
    }
    case T_INT:
    case T_INT64: {
        int64_t v;
        if (parse_int(sc->text, sc->len, &v, why, sizeof why)) {
            if (why[0])
                snprintf(msg, cap, "%s; allowed: %s", why, allowed);
            else
                snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        if (cfg_check_int(f, v, msg, cap)) return -1;
        if (f->type == T_INT)
            *(int *)dst = (int)v;
        else
            *(int64_t *)dst = v;
        return 0;
    }
    case T_NUMS:
    case T_NUM: {
        double v;
        if (parse_num(sc->text, sc->len, &v, why, sizeof why)) {
            if (why[0])
                snprintf(msg, cap, "%s; allowed: %s", why, allowed);
            else
                snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        if (cfg_check_num(f, v, sh, msg, cap)) return -1;
        *(double *)dst = v;
        if (f->type == T_NUMS) *(int *)((char *)base + f->off_n) = 0; /* one number: every channel */
        return 0;
    }
    case T_NAMES: break;
    case T_ENUM:
        for (const char *const *ch = cfg_optimizer_choices; *ch; ch++) {
            size_t n = strlen(*ch);
            int eq = n == sc->len;
            for (size_t i = 0; eq && i < n; i++) eq = tolower((unsigned char)sc->text[i]) == (*ch)[i];
            if (eq) {
                memcpy(dst, *ch, n + 1);
                return 0;
            }
        }
        snprintf(msg, cap, "'%s' is not allowed; allowed: %s", sh, allowed);
        return -1;
    case T_STR:
        if (cfg_check_str(f, sc->text, sc->len, msg, cap)) return -1;
        memcpy(dst, sc->text, sc->len);
        ((char *)dst)[sc->len] = 0;
        return 0;
    }
    snprintf(msg, cap, "internal error: unknown field type");
    return -1;
}
