/* tune.h: `cltrain tune`: a bounded, verified search over the kernel tunables (ct_tune) for the
 * shapes a DigitCNN configuration runs, timed with profiling events, and the per-device cache
 * of its results that train, bench, evaluate and predict apply (never tuning implicitly). */
#ifndef CLTRAIN_TUNE_H
#define CLTRAIN_TUNE_H
#include <stdio.h>

#include "clctx.h"

/* DigitCNN's shape from the config's model: keys (conv channels, fc1 width, batch norm) */
typedef struct {
    int c1, c2, c3, hidden, use_bn;
} ct_tune_net;

typedef struct {
    ct_tune_net dims; /* the network tuned for */
    int batch;        /* training batch size */
    double budget;    /* seconds, compile time and reference checks included */
    unsigned seed;    /* order of the candidates within a group */
} ct_tune_opts;

typedef struct {
    char op[32];      /* "conv fwd", "conv wgrad", "conv dgrad", "fc fwd", ... */
    char shape[64];   /* e.g. "32->64 14x14 k5 N64" */
    double default_ms, best_ms; /* median device time per call */
} ct_tune_row;

typedef struct {
    ct_tune dflt, best;
    ct_tune_row rows[48];
    int n_rows;
    double step_default_ms, step_best_ms; /* sum over the rows: one training step's estimate */
    int tried, wrong, slow, unfit;        /* candidates timed; rejected by the reference check; dropped
                                           * early (3x slower); skipped (device limits) */
    int budget_hit;                       /* stopped by the budget before every candidate ran */
    double seconds;
    char shape[128];                      /* the network and batch tuned for */
    char device[256], when[32];
} ct_tune_report;

/* Every tunable set the search may try on c's device and profile: the profile's defaults, then
 * each group's alternatives applied to them (the search combines group winners; every value it
 * can choose is in one of these sets; `cltrain verify --all-tunables` runs each). malloc'd. */
int ct_tune_candidates(const ct_ctx *c, ct_tune **out, int *n);

/* The search on c (created with profiling). Progress lines go to log (NULL = silent). The
 * result is verified (the full `verify` suite) before it is returned; r->best = r->dflt when
 * nothing was faster. */
int ct_tune_run(ct_ctx *c, const ct_tune_opts *o, FILE *log, ct_tune_report *r);

/* The per-device cache: <cache dir>/tune-<key>.json, key = platform, device, driver, cltrain
 * version and kernel-source hash; one entry per profile and network shape (newest wins). */
int ct_tune_save(const ct_ctx *c, const ct_tune_report *r, char *path, size_t cap);
/* Loads the newest entry for c's device and profile; *found = 0 when there is none. */
int ct_tune_load(const ct_ctx *c, ct_tune_report *r, int *found, char *path, size_t cap);
/* ct_ctx_create's hook (ct_tune_use_cache): applies the cached values unless CLTRAIN_NO_TUNE=1. */
int ct_tune_apply_cached(ct_ctx *c);

/* Prints the table (per kernel and shape: default, best, speed-up; the winning values). */
void ct_tune_print(FILE *f, const ct_tune_report *r);

#endif
