/* plot.c: see plot.h. */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define FONT "DejaVu Sans"
#define PI 3.14159265358979323846

/* --- PNG output ----------------------------------------------------------------------- */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} membuf;

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int length)
{
    membuf *b = closure;
    if (b->len + length > b->cap) {
        size_t nc = (b->cap + length) * 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static int finish_png(cairo_surface_t *s, cairo_t *cr, const char *path)
{
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return ct_fail(CT_ERR_RUNTIME, "%s: drawing failed: %s", path, cairo_status_to_string(st));
    }
    cairo_surface_flush(s);
    membuf b = {0};
    st = cairo_surface_write_to_png_stream(s, png_sink, &b);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || b.oom) {
        free(b.p);
        return ct_fail(b.oom ? CT_ERR_NOMEM : CT_ERR_RUNTIME, "%s: PNG encoding failed: %s", path,
                       cairo_status_to_string(st));
    }
    int rc = ct_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return rc;
}

/* --- text helpers ----------------------------------------------------------------------- */
static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* draws text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; ay likewise 0 top,
 * 0.5 middle, 1 baseline-ish bottom */
static void text_at(cairo_t *cr, double x, double y, double ax, double ay, const char *s)
{
    cairo_text_extents_t e, cap;
    cairo_text_extents(cr, s, &e);
    cairo_text_extents(cr, "H", &cap);
    double ch = -cap.y_bearing; /* cap height: digits and capitals share it */
    cairo_move_to(cr, x - e.x_advance * ax, y + ch * (1 - ay));
    cairo_show_text(cr, s);
}

static void rgb_hex(cairo_t *cr, unsigned v)
{
    cairo_set_source_rgb(cr, ((v >> 16) & 255) / 255.0, ((v >> 8) & 255) / 255.0, (v & 255) / 255.0);
}

/* matplotlib's "Blues" (ColorBrewer, 9 classes), linearly interpolated */
static void blues(double t, double rgb[3])
{
    static const unsigned stops[9] = {0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6,
                                      0x4292c6, 0x2171b5, 0x08519c, 0x08306b};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 8;
    int i = (int)x;
    if (i >= 8) i = 7;
    double f = x - i;
    for (int c = 0; c < 3; c++) {
        double a = ((stops[i] >> (16 - 8 * c)) & 255) / 255.0, b = ((stops[i + 1] >> (16 - 8 * c)) & 255) / 255.0;
        rgb[c] = a + (b - a) * f;
    }
}

static double luminance(const double rgb[3])
{
    double l[3];
    for (int c = 0; c < 3; c++) l[c] = rgb[c] <= 0.03928 ? rgb[c] / 12.92 : pow((rgb[c] + 0.055) / 1.055, 2.4);
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}

/* "nice" tick step for a range and about n ticks: 1, 2, 2.5 or 5 times a power of ten */
static double nice_step(double range, int n)
{
    if (!(range > 0)) return 1;
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    double s = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return s * p;
}

static void fmt_tick(char *buf, size_t cap, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, cap, "%.*f", dec, v);
}

/* --- confusion matrix --------------------------------------------------------------------- */
/* The widest of the class names in the current font. */
static double widest(cairo_t *cr, int K, const char *const *names)
{
    double w = 0;
    for (int k = 0; k < K; k++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, names[k], &e);
        if (e.x_advance > w) w = e.x_advance;
    }
    return w;
}

int ct_plot_confusion_png(const long *cm, int K, const char *const *names, const char *title, const char *subtitle,
                          const char *png_path)
{
    if (K < 1) return ct_fail(CT_ERR_USAGE, "%s: a confusion matrix of %d classes", png_path, K);
    char **num = NULL;
    if (!names) {
        /* the labels' numbers */
        num = calloc((size_t)K, sizeof *num);
        for (int k = 0; num && k < K; k++) {
            num[k] = malloc(16);
            if (num[k]) snprintf(num[k], 16, "%d", k);
        }
        for (int k = 0; num && k < K; k++)
            if (!num[k]) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        if (!num) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        names = (const char *const *)num;
    }
    /* 10 classes: 56-pixel cells as before; more: smaller cells, long names rotated */
    const double cell = K <= 10 ? 56 : (560.0 / K < 14 ? 14 : 560.0 / K), gw = cell * K;
    cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *pc = cairo_create(probe);
    font(pc, 14, 0);
    double nw = widest(pc, K, names);
    cairo_destroy(pc);
    cairo_surface_destroy(probe);
    const int rotate = nw > cell - 4;
    const double gx = nw + 48 > 100 ? nw + 48 : 100, gy = 96;
    const double below = rotate ? nw + 50 : 60;
    const int W = (int)(gx + gw + 160), H = (int)(gy + gw + below + 14 > 730 ? gy + gw + below + 14 : 730);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    long mx = 0;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            if (cm[(size_t)i * K + j] > mx) mx = cm[(size_t)i * K + j];
    double vmax = mx > 0 ? (double)mx : 1;

    /* title */
    rgb_hex(cr, 0x202020);
    font(cr, 21, 1);
    text_at(cr, gx + gw / 2, 22, 0.5, 0, title ? title : "Confusion Matrix");
    if (subtitle && *subtitle) {
        rgb_hex(cr, 0x606060);
        font(cr, 12.5, 0);
        text_at(cr, gx + gw / 2, 52, 0.5, 0, subtitle);
    }
    /* cells (numbers only where they fit) */
    int digits = snprintf(NULL, 0, "%ld", mx);
    double fs = digits <= 4 ? 15 : digits == 5 ? 12.5 : 10;
    if (cell < 56) fs *= cell / 56 + 0.15;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            const long v = cm[(size_t)i * K + j];
            double rgb[3];
            blues((double)v / vmax, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, gx + j * cell, gy + i * cell, cell, cell);
            cairo_fill(cr);
            if (cell < 18) continue;
            if (luminance(rgb) > 0.408) rgb_hex(cr, 0x262626);
            else cairo_set_source_rgb(cr, 1, 1, 1);
            char t[32];
            snprintf(t, sizeof t, "%ld", v);
            font(cr, fs, i == j);
            text_at(cr, gx + (j + 0.5) * cell, gy + (i + 0.5) * cell, 0.5, 0.5, t);
        }
    /* thin cell separators and frame */
    cairo_set_source_rgba(cr, 1, 1, 1, 0.6);
    cairo_set_line_width(cr, 1);
    for (int k = 1; k < K; k++) {
        cairo_move_to(cr, gx + k * cell, gy);
        cairo_line_to(cr, gx + k * cell, gy + gw);
        cairo_move_to(cr, gx, gy + k * cell);
        cairo_line_to(cr, gx + gw, gy + k * cell);
    }
    cairo_stroke(cr);
    rgb_hex(cr, 0x404040);
    cairo_rectangle(cr, gx + 0.5, gy + 0.5, gw - 1, gw - 1);
    cairo_stroke(cr);
    /* tick labels (the class names) and axis labels */
    rgb_hex(cr, 0x202020);
    font(cr, 14, 0);
    for (int k = 0; k < K; k++) {
        if (rotate) {
            cairo_save(cr);
            cairo_translate(cr, gx + (k + 0.5) * cell, gy + gw + 8);
            cairo_rotate(cr, -PI / 2);
            text_at(cr, 0, 0, 1, 0.5, names[k]);
            cairo_restore(cr);
        } else {
            text_at(cr, gx + (k + 0.5) * cell, gy + gw + 8, 0.5, 0, names[k]);
        }
        text_at(cr, gx - 10, gy + (k + 0.5) * cell, 1, 0.5, names[k]);
    }
    font(cr, 16, 1);
    text_at(cr, gx + gw / 2, gy + gw + below - 26, 0.5, 0, "Predicted");
    cairo_save(cr);
    double ax = gx - nw - 30 < gx - 48 ? gx - nw - 30 : gx - 48;
    cairo_translate(cr, ax < 14 ? 14 : ax, gy + gw / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, 0.5, 0.5, "Actual");
    cairo_restore(cr);
    if (num) {
        for (int k = 0; k < K; k++) free(num[k]);
        free(num);
    }
    /* colour bar */
    const double bx = gx + gw + 28, bw = 22;
    cairo_pattern_t *pat = cairo_pattern_create_linear(0, gy + gw, 0, gy);
    for (int k = 0; k <= 16; k++) {
        double rgb[3];
        blues(k / 16.0, rgb);
        cairo_pattern_add_color_stop_rgb(pat, k / 16.0, rgb[0], rgb[1], rgb[2]);
    }
    cairo_set_source(cr, pat);
    cairo_rectangle(cr, bx, gy, bw, gw);
    cairo_fill(cr);
    cairo_pattern_destroy(pat);
    rgb_hex(cr, 0x404040);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, bx + 0.5, gy + 0.5, bw - 1, gw - 1);
    cairo_stroke(cr);
    double step = nice_step(vmax, 5);
    if (step < 1) step = 1;
    font(cr, 12, 0);
    for (double v = 0; v <= vmax + 1e-9; v += step) {
        double y = gy + gw - v / vmax * gw;
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 5, y);
        cairo_stroke(cr);
        char t[32];
        fmt_tick(t, sizeof t, v, step);
        text_at(cr, bx + bw + 8, y, 0, 0.5, t);
    }
    return finish_png(s, cr, png_path);
}

/* --- training curves ---------------------------------------------------------------------- */
typedef struct {
    double *epoch, *tl, *vl, *ta, *va;
    int n;
} curves;

static int parse_csv(const char *path, curves *c)
{
    unsigned char *text = NULL;
    size_t len;
    int rc = ct_read_file(path, 64u << 20, &text, &len);
    if (rc) return rc;
    memset(c, 0, sizeof *c);
    const char *want[5] = {"epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy"};
    int col[5] = {-1, -1, -1, -1, -1};
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    double *mem = calloc(lines * 5 + 5, sizeof(double));
    if (!mem) {
        free(text);
        return ct_fail(CT_ERR_NOMEM, "out of host memory reading %s", path);
    }
    c->epoch = mem;
    c->tl = mem + lines;
    c->vl = mem + 2 * lines;
    c->ta = mem + 3 * lines;
    c->va = mem + 4 * lines;
    double *dst[5] = {c->epoch, c->tl, c->vl, c->ta, c->va};
    char *save = NULL;
    int lineno = 0;
    rc = CT_OK;
    for (char *line = strtok_r((char *)text, "\n", &save); line && rc == CT_OK; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (!ll) continue;
        char *fsave = NULL;
        int k = 0;
        if (lineno == 1) {
            for (char *fld = strtok_r(line, ",", &fsave); fld; fld = strtok_r(NULL, ",", &fsave), k++)
                for (int w = 0; w < 5; w++)
                    if (!strcmp(fld, want[w])) col[w] = k;
            for (int w = 0; w < 5; w++)
                if (col[w] < 0)
                    rc = ct_fail(CT_ERR_INPUT, "%s:1: no column '%s' (expected the header of cltrain's metrics.csv)",
                                 path, want[w]);
            continue;
        }
        double vals[64];
        int nv = 0;
        for (char *p = line; nv < 64;) {
            char *end;
            vals[nv] = strtod(p, &end);
            if (end == p || (*end != ',' && *end != 0)) {
                rc = ct_fail(CT_ERR_INPUT, "%s:%d: field %d is not a number", path, lineno, nv + 1);
                break;
            }
            nv++;
            if (!*end) break;
            p = end + 1;
        }
        if (rc) break;
        for (int w = 0; w < 5; w++) {
            if (col[w] >= nv) {
                rc = ct_fail(CT_ERR_INPUT, "%s:%d: too few fields (%d)", path, lineno, nv);
                break;
            }
            dst[w][c->n] = vals[col[w]];
        }
        if (rc == CT_OK) c->n++;
    }
    free(text);
    if (rc == CT_OK && c->n == 0) rc = ct_fail(CT_ERR_INPUT, "%s: no epochs recorded", path);
    if (rc) {
        free(mem);
        memset(c, 0, sizeof *c);
    }
    return rc;
}

static void panel(cairo_t *cr, double x0, double y0, double w, double h, const char *title, const char *ylabel,
                  const double *ex, const double *a, const double *b, int n, const char *la, const char *lb,
                  int legend_low)
{
    double xmin = ex[0], xmax = ex[0], ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (ex[i] < xmin) xmin = ex[i];
        if (ex[i] > xmax) xmax = ex[i];
        const double v2[2] = {a[i], b[i]};
        for (int k = 0; k < 2; k++)
            if (isfinite(v2[k])) {
                if (v2[k] < ymin) ymin = v2[k];
                if (v2[k] > ymax) ymax = v2[k];
            }
    }
    if (!isfinite(ymin)) ymin = 0, ymax = 1;
    if (xmax - xmin < 1) xmin -= 0.5, xmax += 0.5;
    double pad = (ymax - ymin) * 0.08;
    if (pad <= 0) pad = fabs(ymax) * 0.05 + 0.05;
    ymin -= pad;
    ymax += pad;
    double ystep = nice_step(ymax - ymin, 5);
    double xpad = (xmax - xmin) * 0.04;
    xmin -= xpad;
    xmax += xpad;
    const double L = x0 + 70, T = y0 + 40, R = x0 + w - 16, B = y0 + h - 56;
#define PX(v) (L + ((v) - xmin) / (xmax - xmin) * (R - L))
#define PY(v) (B - ((v) - ymin) / (ymax - ymin) * (B - T))
    rgb_hex(cr, 0x202020);
    font(cr, 16, 1);
    text_at(cr, (L + R) / 2, y0 + 10, 0.5, 0, title);
    /* grid + y ticks */
    cairo_set_line_width(cr, 1);
    font(cr, 12, 0);
    for (double v = ceil(ymin / ystep) * ystep; v <= ymax + 1e-12; v += ystep) {
        double y = floor(PY(v)) + 0.5;
        rgb_hex(cr, 0xe4e4e4);
        cairo_move_to(cr, L, y);
        cairo_line_to(cr, R, y);
        cairo_stroke(cr);
        rgb_hex(cr, 0x303030);
        char t[32];
        fmt_tick(t, sizeof t, v, ystep);
        text_at(cr, L - 7, y, 1, 0.5, t);
    }
    double xstep = nice_step(xmax - xmin, 8);
    if (xstep < 1) xstep = 1;
    for (double v = ceil(xmin / xstep) * xstep; v <= xmax + 1e-12; v += xstep) {
        double x = floor(PX(v)) + 0.5;
        rgb_hex(cr, 0xe4e4e4);
        cairo_move_to(cr, x, T);
        cairo_line_to(cr, x, B);
        cairo_stroke(cr);
        rgb_hex(cr, 0x303030);
        char t[32];
        fmt_tick(t, sizeof t, v, xstep);
        text_at(cr, x, B + 6, 0.5, 0, t);
    }
    rgb_hex(cr, 0x404040);
    cairo_rectangle(cr, L + 0.5, T + 0.5, R - L - 1, B - T - 1);
    cairo_stroke(cr);
    font(cr, 14, 0);
    rgb_hex(cr, 0x202020);
    text_at(cr, (L + R) / 2, B + 28, 0.5, 0, "Epoch");
    cairo_save(cr);
    cairo_translate(cr, x0 + 16, (T + B) / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, 0.5, 0.5, ylabel);
    cairo_restore(cr);
    /* series: train blue, validation orange (matplotlib tab10) */
    const double *ser[2] = {a, b};
    const unsigned colour[2] = {0x1f77b4, 0xff7f0e};
    cairo_save(cr);
    cairo_rectangle(cr, L, T, R - L, B - T);
    cairo_clip(cr);
    for (int k = 0; k < 2; k++) {
        rgb_hex(cr, colour[k]);
        cairo_set_line_width(cr, 2.2);
        int pen = 0;
        for (int i = 0; i < n; i++) {
            if (!isfinite(ser[k][i])) {
                pen = 0;
                continue;
            }
            if (pen) cairo_line_to(cr, PX(ex[i]), PY(ser[k][i]));
            else cairo_move_to(cr, PX(ex[i]), PY(ser[k][i]));
            pen = 1;
        }
        cairo_stroke(cr);
        double r = n > 40 ? 2 : 3.5;
        for (int i = 0; i < n; i++) {
            if (!isfinite(ser[k][i])) continue;
            cairo_arc(cr, PX(ex[i]), PY(ser[k][i]), r, 0, 2 * PI);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
    /* legend */
    const char *lab[2] = {la, lb};
    double lx = R - 150, ly = legend_low ? B - 58 : T + 10;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, lx, ly, 140, 48);
    cairo_fill(cr);
    rgb_hex(cr, 0xc8c8c8);
    cairo_rectangle(cr, lx + 0.5, ly + 0.5, 139, 47);
    cairo_stroke(cr);
    font(cr, 12.5, 0);
    for (int k = 0; k < 2; k++) {
        double yy = ly + 14 + k * 20;
        rgb_hex(cr, colour[k]);
        cairo_set_line_width(cr, 2.2);
        cairo_move_to(cr, lx + 10, yy);
        cairo_line_to(cr, lx + 34, yy);
        cairo_stroke(cr);
        cairo_arc(cr, lx + 22, yy, 3.5, 0, 2 * PI);
        cairo_fill(cr);
        rgb_hex(cr, 0x202020);
        text_at(cr, lx + 42, yy, 0, 0.5, lab[k]);
    }
#undef PX
#undef PY
}

int ct_plot_training_curves_png(const char *csv_path, const char *title, const char *png_path)
{
    curves c;
    int rc = parse_csv(csv_path, &c);
    if (rc) return rc;
    const int W = 1100, H = 470;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    rgb_hex(cr, 0x202020);
    font(cr, 18, 1);
    char head[700];
    snprintf(head, sizeof head, "Training curves%s%s", title && *title ? " - " : "", title ? title : "");
    text_at(cr, W / 2.0, 14, 0.5, 0, head);
    panel(cr, 10, 44, W / 2.0 - 20, H - 54, "Loss", "cross-entropy loss", c.epoch, c.tl, c.vl, c.n, "train", "validation",
          0);
    panel(cr, W / 2.0 + 10, 44, W / 2.0 - 20, H - 54, "Accuracy", "accuracy (%)", c.epoch, c.ta, c.va, c.n, "train",
          "validation", 1);
    free(c.epoch);
    return finish_png(s, cr, png_path);
}
