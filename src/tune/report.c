/* tune/report.c: the table of `cltrain tune` (tune.h): per kernel and shape the default and best
 * times, the speed-up and the values that won; the whole-step estimate; the search's counts. */
#include <string.h>

#include "tune/tune_int.h"

void ct_tune_winning(const ct_tune_report *r, const char *op, char *buf, size_t cap)
{
    const ct_tune *b = &r->best, *d = &r->dflt;
    buf[0] = 0;
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    const int conv = !strncmp(op, "conv", 4), fc = !strncmp(op, "fc", 2), bn = !strncmp(op, "bn", 2);
    const int gemm_used = conv || (fc && !b->fc_clblast);
    if (gemm_used && (b->gemm_tm != d->gemm_tm || b->gemm_vw != d->gemm_vw || b->gemm_nv != d->gemm_nv))
        ADD("tile %dx%d(x%d) ", b->gemm_tm, b->gemm_vw, b->gemm_nv);
    if (gemm_used && (b->gemm_local[0] != d->gemm_local[0] || b->gemm_local[1] != d->gemm_local[1]))
        ADD("local %zux%zu ", b->gemm_local[0], b->gemm_local[1]);
    if (gemm_used && (b->gemm_nt_tm != d->gemm_nt_tm || b->gemm_nt_tn != d->gemm_nt_tn ||
                      b->gemm_nt_vw != d->gemm_nt_vw || b->gemm_nt_kc != d->gemm_nt_kc))
        ADD("nt %dx%d vw%d kc%d ", b->gemm_nt_tm, b->gemm_nt_tn, b->gemm_nt_vw, b->gemm_nt_kc);
    if (conv && (b->conv_direct != d->conv_direct || b->conv_panels != d->conv_panels))
        ADD("direct=%d panels=%d ", b->conv_direct, b->conv_panels);
    if (fc && b->fc_clblast != d->fc_clblast) ADD("%s ", b->fc_clblast ? "CLBlast" : "our GEMM");
    if ((bn || conv) && b->red_ls != d->red_ls) ADD("red_ls=%d ", b->red_ls);
    if ((bn || !strncmp(op, "adam", 4) || !strncmp(op, "sgd", 3)) && b->ew_vw != d->ew_vw) ADD("ew_vw=%d ", b->ew_vw);
#undef ADD
    if (!buf[0]) snprintf(buf, cap, "(defaults)");
}

void ct_tune_print(FILE *f, const ct_tune_report *r)
{
    fprintf(f, "%-20s %-52s %5s %10s %10s %8s  %s\n", "kernel", "shape", "count", "default ms", "best ms",
            "speed-up", "winning values");
    for (int i = 0; i < r->n_rows; i++) {
        const ct_tune_row *w = &r->rows[i];
        char vals[256];
        ct_tune_winning(r, w->op, vals, sizeof vals);
        fprintf(f, "%-20s %-52s %5d %10.3f %10.3f %7.2fx  %s\n", w->op, w->shape, w->count, w->default_ms,
                w->best_ms, w->best_ms > 0 ? w->default_ms / w->best_ms : 1.0, vals);
    }
    fprintf(f, "whole step (sum of the rows x count): %.3f ms with the defaults, %.3f ms tuned (%.2fx)\n",
            r->step_default_ms, r->step_best_ms, r->step_best_ms > 0 ? r->step_default_ms / r->step_best_ms : 1.0);
    char d[512], b[512];
    ct_tune_format(&r->dflt, d, sizeof d);
    ct_tune_format(&r->best, b, sizeof b);
    fprintf(f, "defaults: %s\ntuned:    %s\n", d, b);
    fprintf(f, "%d candidates timed, %d rejected by the reference check, %d dropped as over 3x slower, %d beyond the "
               "device's limits%s; %.1f s\n",
            r->tried, r->wrong, r->slow, r->unfit, r->budget_hit ? "; stopped by the budget" : "", r->seconds);
}
