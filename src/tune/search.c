/* tune/search.c: the search of `cltrain tune` (tune.h). A coordinate descent over groups of
 * tunables (GEMM tiles, GEMM work-group shape, NT GEMM tiles, convolution path, FC back end,
 * reduction work-group size, elementwise vector width): the profile's defaults are measured
 * first, then each group's alternatives in a seeded order on top of the best set so far. A
 * candidate is built, checked against the C reference on every shape it affects, timed (one
 * quick pass: dropped when 3x slower than the best; then the median of 5 profiled runs) and kept
 * when it beats the best by more than 2% (noise). Times are weighted by how often a step runs
 * each shape. The final set passes the whole `verify` suite or is discarded. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tune/tune_int.h"
#include "verify.h"

/* ---- the candidate values ---------------------------------------------------------------- */

typedef struct {
    int group, a, b, c, d;
} variant;

static const variant variants[] = {
    /* GEMM NN tile: rows per item, vector width, vectors per row */
    {G_TILE, 4, 4, 1, 0}, {G_TILE, 2, 4, 1, 0}, {G_TILE, 8, 4, 1, 0}, {G_TILE, 4, 8, 1, 0},
    {G_TILE, 2, 8, 1, 0}, {G_TILE, 8, 16, 2, 0}, {G_TILE, 4, 16, 1, 0},
    /* GEMM work-group shape (0 x 0: the driver chooses) */
    {G_LOCAL, 16, 8, 0, 0}, {G_LOCAL, 8, 8, 0, 0}, {G_LOCAL, 16, 16, 0, 0}, {G_LOCAL, 32, 8, 0, 0},
    {G_LOCAL, 8, 4, 0, 0}, {G_LOCAL, 0, 0, 0, 0},
    /* GEMM NT: rows x cols per item, vector width along K, K chunk */
    {G_NT, 2, 2, 4, 0}, {G_NT, 2, 4, 4, 0}, {G_NT, 4, 4, 4, 0}, {G_NT, 2, 2, 8, 0}, {G_NT, 2, 8, 16, 2048},
    /* convolution path: direct-kernel mask (bit 0 backward data, bit 1 forward + weight
     * gradient, bit 2 same-padded 3x3 convs on their unpadded input), im2col panels */
    {G_CONV, 0, 0, 0, 0}, {G_CONV, 1, 0, 0, 0}, {G_CONV, 2, 0, 0, 0}, {G_CONV, 3, 0, 0, 0}, {G_CONV, 3, 1, 0, 0},
    {G_CONV, 7, 1, 0, 0}, {G_CONV, 0, 1, 0, 0},
    /* FC: CLBlast or our GEMM */
    {G_FC, 0, 0, 0, 0}, {G_FC, 1, 0, 0, 0},
    /* reduction work-group size */
    {G_RED, 1, 0, 0, 0}, {G_RED, 64, 0, 0, 0}, {G_RED, 128, 0, 0, 0}, {G_RED, 256, 0, 0, 0},
    /* elementwise vector width */
    {G_EW, 4, 0, 0, 0}, {G_EW, 8, 0, 0, 0}, {G_EW, 16, 0, 0, 0},
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

static void apply_variant(ct_tune *t, const variant *v)
{
    switch (v->group) {
    case G_TILE: t->gemm_tm = v->a, t->gemm_vw = v->b, t->gemm_nv = v->c; break;
    case G_LOCAL: t->gemm_local[0] = (size_t)v->a, t->gemm_local[1] = (size_t)v->b; break;
    case G_NT: t->gemm_nt_tm = v->a, t->gemm_nt_tn = v->b, t->gemm_nt_vw = v->c, t->gemm_nt_kc = v->d; break;
    case G_CONV: t->conv_direct = v->a, t->conv_panels = v->b; break;
    case G_FC: t->fc_clblast = v->a; break;
    case G_RED: t->red_ls = v->a; break;
    case G_EW: t->ew_vw = v->a; break;
    }
}

int tune_same_values(const ct_tune *a, const ct_tune *b)
{
    char x[512], y[512];
    ct_tune_format(a, x, sizeof x);
    ct_tune_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* within the device's limits (before building: work-group size, local memory) */
static int fits_device(const ct_device_info *d, const ct_tune *t)
{
    if (t->gemm_local[0] * t->gemm_local[1] > d->max_wg_size) return 0;
    if ((size_t)t->red_ls > d->max_wg_size || (unsigned long long)t->red_ls * 4 > d->local_mem) return 0;
    return 1;
}

int ct_tune_candidates(const ct_ctx *c, ct_tune **out, int *n)
{
    ct_tune base;
    ct_tune_profile(&c->dev, c->tune.gpu_profile, &base);
    base.gpu_profile = c->tune.gpu_profile;
    snprintf(base.origin, sizeof base.origin, "%s", c->tune.origin);
    ct_tune *list = malloc((size_t)(N_VARIANTS + 1) * sizeof *list);
    if (!list) return ct_fail(CT_ERR_NOMEM, "out of memory");
    int k = 0;
    list[k++] = base;
    for (int i = 0; i < N_VARIANTS; i++) {
        ct_tune t = base;
        apply_variant(&t, &variants[i]);
        if (tune_same_values(&t, &base) || !fits_device(&c->dev, &t)) continue;
        list[k++] = t;
    }
    *out = list;
    *n = k;
    return CT_OK;
}

/* the largest work-group a built kernel accepts (CL_KERNEL_WORK_GROUP_SIZE) */
static size_t kernel_wg(ct_ctx *c, const char *family, const char *name)
{
    cl_kernel k;
    if (ct_kernel(c, family, name, &k) != CT_OK) {
        ct_clear_error();
        return 0;
    }
    size_t wg = 0;
    clGetKernelWorkGroupInfo(k, c->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    return wg;
}

/* after building: the launches the candidate makes fit the kernels' own limits */
static int fits_kernels(ct_ctx *c, const ct_tune *t)
{
    const size_t l = t->gemm_local[0] * t->gemm_local[1];
    if (l > 1 && (l > kernel_wg(c, "gemm", "gemm_nn") || l > kernel_wg(c, "gemm", "gemm_nt"))) return 0;
    if (t->red_ls > 1 && ((size_t)t->red_ls > kernel_wg(c, "reduce", "rowsum") ||
                          (size_t)t->red_ls > kernel_wg(c, "batchnorm", "bn_stats")))
        return 0;
    return 1;
}

/* ---- the network's units ------------------------------------------------------------------ */

/* The network's shapes twice: at the training batch for timing (tim) and at a batch of at most
 * CHECK_BATCH with reference results for the checks (chk): the same kernels and code paths, a
 * reference a few seconds cheaper. One report row per timed operation. */
#define CHECK_BATCH 4
static int network_units(ct_ctx *c, const ct_tune_opts *o, tune_unit **tim, tune_unit **chk, int *nu,
                         ct_tune_report *r)
{
    ct_tune_shape *s;
    int ns;
    unsigned long long key;
    CT_TRY(ct_tune_shapes(o->net, o->adam, &s, &ns, &key));
    r->net_key = key;
    tune_unit *u = calloc((size_t)ns * 2, sizeof *u);
    if (!u) {
        free(s);
        return ct_fail(CT_ERR_NOMEM, "out of memory");
    }
    *tim = u;
    *chk = u + ns;
    *nu = ns;
    int rc = CT_OK;
    for (int i = 0; i < ns && rc == CT_OK; i++) {
        const char *ops[3];
        const int n = tune_unit_ops(&s[i], ops);
        if (r->n_rows + n > CT_TUNE_MAX_ROWS) {
            rc = ct_fail(CT_ERR_USAGE, "tune: the network has more than %d distinct operation shapes; tune a smaller "
                         "one", CT_TUNE_MAX_ROWS);
            break;
        }
        char label[64];
        ct_tune_shape_label(&s[i], label, sizeof label);
        u[i].row = u[ns + i].row = r->n_rows;
        for (int k = 0; k < n; k++) {
            ct_tune_row *w = &r->rows[r->n_rows++];
            snprintf(w->op, sizeof w->op, "%s", ops[k]);
            snprintf(w->shape, sizeof w->shape, "%s %s N%d", s[i].name, label, o->batch);
            w->count = s[i].count;
        }
        u[ns + i].with_ref = 1;
        rc = tune_unit_setup(c, &u[i], &s[i], o->batch);
        if (rc == CT_OK) rc = tune_unit_setup(c, &u[ns + i], &s[i], o->batch < CHECK_BATCH ? o->batch : CHECK_BATCH);
    }
    free(s);
    return rc;
}

/* ---- measuring ---------------------------------------------------------------------------- */

/* the step's time of the units the groups affect (0: all): each row times how often it runs */
static double sum_rows(const double *ms, const tune_unit *u, int nu, unsigned groups)
{
    double s = 0;
    for (int i = 0; i < nu; i++)
        if (!groups || (u[i].groups & groups))
            for (int k = 0; k < u[i].nrows; k++) s += ms[u[i].row + k] * u[i].s.count;
    return s;
}

/* checks then times every unit the groups affect under c's current tunables into ms; *verdict:
 * 0 ok, 1 wrong, 2 dropped as slow (quick pass > 3 x limit) */
static int measure(ct_ctx *c, tune_unit *u, tune_unit *chk, int nu, unsigned groups, double limit, double *ms,
                   int *verdict)
{
    *verdict = 0;
    for (int i = 0; i < nu; i++) {
        if (groups && !(u[i].groups & groups)) continue;
        int ok;
        CT_TRY(tune_unit_check(c, &chk[i], &ok));
        if (!ok) {
            *verdict = 1;
            return CT_OK;
        }
    }
    double quick[CT_TUNE_MAX_ROWS];
    memcpy(quick, ms, sizeof quick);
    for (int i = 0; i < nu; i++) /* also the warm-up */
        if (!groups || (u[i].groups & groups)) CT_TRY(tune_unit_time(c, &u[i], 1, quick + u[i].row));
    if (limit > 0 && sum_rows(quick, u, nu, groups) > 3 * limit) {
        *verdict = 2;
        return CT_OK;
    }
    for (int i = 0; i < nu; i++)
        if (!groups || (u[i].groups & groups)) CT_TRY(tune_unit_time(c, &u[i], TUNE_REPS, ms + u[i].row));
    return CT_OK;
}

static void shuffle(int *a, int n, unsigned seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = n - 1; i > 0; i--) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int j = (int)(s % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* variant v on top of *best: built, checked and timed against cur (the best set's times);
 * *best and cur are updated when it wins */
static int try_variant(ct_ctx *c, tune_unit *u, tune_unit *chk, int nu, const variant *v, ct_tune *best, double *cur,
                       double t0, FILE *log, ct_tune_report *r)
{
    ct_tune cand = *best;
    apply_variant(&cand, v);
    if (tune_same_values(&cand, best)) return CT_OK;
    if (!fits_device(&c->dev, &cand)) {
        r->unfit++;
        return CT_OK;
    }
    CT_TRY(ct_ctx_set_tune(c, &cand));
    if (!fits_kernels(c, &cand)) {
        r->unfit++;
        return CT_OK;
    }
    /* the units this group's kernels run in (a GEMM change reaches every GEMM user) */
    const unsigned g = ((unsigned)v->group & G_GEMM) ? G_GEMM : (unsigned)v->group;
    double ms[CT_TUNE_MAX_ROWS];
    memcpy(ms, cur, sizeof ms);
    const double before = sum_rows(cur, u, nu, g);
    int verdict;
    CT_TRY(measure(c, u, chk, nu, g, before, ms, &verdict));
    char vals[512];
    ct_tune_format(&cand, vals, sizeof vals);
    if (verdict == 1) {
        r->wrong++;
        if (log) fprintf(log, "  REJECTED (disagrees with the reference): %s\n", vals);
        return CT_OK;
    }
    if (verdict == 2) {
        r->slow++;
        if (log) fprintf(log, "  dropped (over 3x slower): %s\n", vals);
        return CT_OK;
    }
    r->tried++;
    const double after = sum_rows(ms, u, nu, g);
    const int win = after < 0.98 * before;
    if (log)
        fprintf(log, "  %8.3f ms vs %8.3f ms%s  %s  (%.1f s)\n", after, before, win ? "  <- better" : "", vals,
                ct_now() - t0);
    if (win) {
        *best = cand;
        memcpy(cur, ms, sizeof ms);
    }
    return CT_OK;
}

static int search(ct_ctx *c, const ct_tune_opts *o, tune_unit *u, tune_unit *chk, int nu, double t0, FILE *log,
                  ct_tune_report *r)
{
    double cur[CT_TUNE_MAX_ROWS] = {0};
    int verdict;
    CT_TRY(measure(c, u, chk, nu, 0, 0, cur, &verdict));
    if (verdict)
        return ct_fail(CT_ERR_RUNTIME, "the default kernels disagree with the reference on '%s': run `cltrain "
                                       "verify` before tuning", c->dev.name);
    for (int i = 0; i < r->n_rows; i++) r->rows[i].default_ms = cur[i];
    if (log) fprintf(log, "defaults: %.3f ms per step (%.1f s so far)\n", sum_rows(cur, u, nu, 0), ct_now() - t0);
    ct_tune best = c->tune;
    const int order[] = {G_TILE, G_LOCAL, G_NT, G_CONV, G_FC, G_RED, G_EW};
    for (int gi = 0; gi < 7 && !r->budget_hit; gi++) {
        int idx[N_VARIANTS], n = 0;
        for (int i = 0; i < N_VARIANTS; i++)
            if (variants[i].group == order[gi]) idx[n++] = i;
        shuffle(idx, n, o->seed + (unsigned)gi);
        for (int j = 0; j < n; j++) {
            if (ct_now() - t0 > o->budget) {
                r->budget_hit = 1;
                break;
            }
            CT_TRY(try_variant(c, u, chk, nu, &variants[idx[j]], &best, cur, t0, log, r));
        }
    }
    r->best = best;
    return CT_OK;
}

/* the winner: the whole verify suite, then every row re-timed under it; r->best = r->dflt when
 * it fails or is not faster overall */
static int confirm(ct_ctx *c, tune_unit *u, tune_unit *chk, int nu, FILE *log, ct_tune_report *r)
{
    ct_verify_result vr;
    CT_TRY(ct_ctx_set_tune(c, &r->best));
    CT_TRY(ct_verify_run(c, NULL, &vr));
    if (vr.fail) {
        if (log) fprintf(log, "the best set fails %d verify checks: keeping the defaults\n", vr.fail);
        r->best = r->dflt;
        return CT_OK;
    }
    double ms[CT_TUNE_MAX_ROWS] = {0}, dflt[CT_TUNE_MAX_ROWS] = {0};
    int verdict = 0;
    CT_TRY(measure(c, u, chk, nu, 0, 0, ms, &verdict));
    for (int i = 0; i < r->n_rows; i++) dflt[i] = r->rows[i].default_ms;
    if (verdict || sum_rows(ms, u, nu, 0) >= sum_rows(dflt, u, nu, 0)) {
        if (log) fprintf(log, "re-timed, the best set is not faster overall: keeping the defaults\n");
        r->best = r->dflt;
        return CT_OK;
    }
    for (int i = 0; i < r->n_rows; i++) r->rows[i].best_ms = ms[i];
    return CT_OK;
}

int ct_tune_run(ct_ctx *c, const ct_tune_opts *o, FILE *log, ct_tune_report *r)
{
    memset(r, 0, sizeof *r);
    if (!c->profiling) return ct_fail(CT_ERR_RUNTIME, "tuning needs a context with profiling");
    const double t0 = ct_now();
    r->dflt = c->tune;
    r->batch = o->batch;
    snprintf(r->device, sizeof r->device, "%s", c->dev.name);
    snprintf(r->shape, sizeof r->shape, "%s, batch %d", o->label && *o->label ? o->label : "network", o->batch);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(r->when, sizeof r->when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    tune_unit *u = NULL, *chk = NULL;
    int nu = 0;
    int rc = network_units(c, o, &u, &chk, &nu, r);
    if (rc == CT_OK && log)
        fprintf(log, "%d distinct shapes, %d timed operations; reference results computed (%.1f s)\n", nu, r->n_rows,
                ct_now() - t0);
    if (rc == CT_OK) rc = search(c, o, u, chk, nu, t0, log, r);
    if (rc == CT_OK && !tune_same_values(&r->best, &r->dflt)) rc = confirm(c, u, chk, nu, log, r);
    if (tune_same_values(&r->best, &r->dflt))
        for (int i = 0; i < r->n_rows; i++) r->rows[i].best_ms = r->rows[i].default_ms;
    for (int i = 0; i < r->n_rows; i++) {
        r->step_default_ms += r->rows[i].default_ms * r->rows[i].count;
        r->step_best_ms += r->rows[i].best_ms * r->rows[i].count;
    }
    if (rc == CT_OK) rc = ct_ctx_set_tune(c, &r->dflt);
    for (int i = 0; u && i < 2 * nu; i++) tune_unit_free(&u[i]);
    free(u);
    r->seconds = ct_now() - t0;
    return rc;
}
