/* tune.h: `cltrain tune`: a bounded, verified search over the kernel tunables (ct_tune) for the
 * shapes a configured network runs (tune/shapes.c), timed with profiling events, and the
 * per-device cache of its results that train, bench, evaluate and predict apply, looked up by
 * the network's shapes (never tuning implicitly). Implementation: src/tune/. */
#ifndef CLTRAIN_TUNE_H
#define CLTRAIN_TUNE_H
#include <stdio.h>

#include "clctx.h"
#include "nn/netdef.h"

#define CT_TUNE_MAX_ROWS 192

typedef struct {
    const ct_netdef *net; /* the resolved network tuned for (ct_config_netdef) */
    const char *label;    /* names it in the report ("configs/networks/resnet-small.yaml") */
    int adam;             /* optimizer step timed: 1 Adam, 0 SGD */
    int batch;            /* training batch size */
    double budget;        /* seconds, compile time and reference checks included */
    unsigned seed;        /* order of the candidates within a group */
} ct_tune_opts;

typedef struct {
    char op[32];      /* "conv fwd", "conv wgrad", "conv dgrad", "fc fwd", ... */
    char shape[96];   /* first layer of the shape, then e.g. "16->32 28x28 k3 s2 p1 nobias N64" */
    int count;        /* layers of the network with this shape (a step runs it count times) */
    double default_ms, best_ms; /* median device time per call */
} ct_tune_row;

typedef struct {
    ct_tune dflt, best;
    ct_tune_row rows[CT_TUNE_MAX_ROWS];
    int n_rows;
    double step_default_ms, step_best_ms; /* sum over the rows x count: one training step's estimate */
    int tried, wrong, slow, unfit;        /* candidates timed; rejected by the reference check; dropped
                                           * early (3x slower); skipped (device limits) */
    int budget_hit;                       /* stopped by the budget before every candidate ran */
    double seconds;
    unsigned long long net_key;           /* hash of the network's shapes (the cache's key with batch) */
    int batch;
    char shape[192];                      /* the network and batch tuned for */
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
 * version and kernel-source hash; one entry per profile, network (net_key) and batch (newest wins). */
int ct_tune_save(const ct_ctx *c, const ct_tune_report *r, char *path, size_t cap);
/* Loads the newest entry for c's device and profile; *found = 0 when there is none. */
int ct_tune_load(const ct_ctx *c, ct_tune_report *r, int *found, char *path, size_t cap);
/* Loads the entry for c's profile and the network net_key: at this batch (*found = 1), else the
 * newest at another batch (*found = 2); *found = 0 when the network was never tuned. */
int ct_tune_load_network(const ct_ctx *c, unsigned long long net_key, int batch, ct_tune_report *r, int *found,
                         char *path, size_t cap);
/* The network's cache key: a hash of the shapes tune times (not the batch, not the optimizer). */
int ct_tune_network_key(const ct_netdef *net, unsigned long long *key);
/* ct_ctx_create's hook for `verify --tuned` (ct_tune_use_cache(CT_TUNE_CACHE_NEWEST)): applies
 * the newest cached values of c's profile unless CLTRAIN_NO_TUNE=1. */
int ct_tune_apply_cached(ct_ctx *c);
/* train, bench, evaluate, predict (after ct_tune_use_cache(CT_TUNE_CACHE_NETWORK)): applies the
 * values tuned for this network's shapes (at this batch, else at another batch) unless
 * CLTRAIN_NO_TUNE=1; -v says which or that there are none. A no-op otherwise. */
int ct_tune_apply_network(ct_ctx *c, const ct_netdef *net, int batch);

/* The tunables of r's winner that differ from the defaults and reach kernel `op` (a row's op),
 * e.g. "tile 8x4(x1) local 8x8 "; "(defaults)" when none. */
void ct_tune_winning(const ct_tune_report *r, const char *op, char *buf, size_t cap);
/* Prints the table (per kernel and shape: default, best, speed-up; the winning values). */
void ct_tune_print(FILE *f, const ct_tune_report *r);

#endif
