/* tune/tune_int.h: the parts of `cltrain tune` (tune.h) shared by its files: the network's
 * shapes (tune/shapes.c), the timed and checked units built from them (tune/units.c), the search
 * (tune/search.c), the cache (tune/cache.c) and the table (tune/report.c). Not for use outside
 * src/tune. */
#ifndef CLTRAIN_TUNE_INT_H
#define CLTRAIN_TUNE_INT_H
#include "ops.h"
#include "tune.h"

/* groups of tunables the search changes together */
enum { G_TILE = 1, G_LOCAL = 2, G_NT = 4, G_CONV = 8, G_FC = 16, G_RED = 32, G_EW = 64 };
#define G_GEMM (G_TILE | G_LOCAL | G_NT)
#define TUNE_REPS 5

/* ---- shapes (tune/shapes.c) ---- */
typedef enum { S_CONV, S_FC, S_BN2D, S_BN1D, S_MAXPOOL, S_AVGPOOL, S_ADAPTIVE, S_OPTIM } shape_kind;

/* one distinct operation shape of a network (the batch is the report's) */
typedef struct {
    shape_kind kind;
    int a, b;                   /* conv: in/out channels; fc: in/out features; bn, pools: channels;
                                 * optim: 1 adam, 0 sgd */
    int h, w;                   /* input plane (conv, bn2d, pools) */
    int kh, kw, sh, sw, ph, pw; /* conv, max/avg pool; adaptive: kh x kw = output size */
    int flag;                   /* conv, fc: bias; avgpool: count_include_pad; adaptive: fused with flatten */
    int need_dx;                /* conv, fc, pools: the input needs a gradient */
    long long n;                /* optim: parameters */
    int count;                  /* how often a training step runs it */
    char name[24];              /* the first layer with this shape */
} ct_tune_shape;

/* The distinct shapes a training step of net runs (malloc'd into *out), in network order, the
 * optimizer step last; *key: a hash of the layers' shapes (not the batch, not the optimizer). */
int ct_tune_shapes(const ct_netdef *net, int adam, ct_tune_shape **out, int *n, unsigned long long *key);
/* "16->32 28x28 k3 s2 p1" etc. (no batch) */
void ct_tune_shape_label(const ct_tune_shape *s, char *buf, size_t cap);

/* ---- units (tune/units.c): one shape's buffers, inputs and reference results ---- */
typedef enum { U_CONV, U_FC, U_BN, U_BN1D, U_POOL, U_OPTIM } unit_kind;

typedef struct {
    unit_kind kind;
    unsigned groups; /* groups whose values can change this unit's time */
    int row;         /* its first row in the report */
    int nrows;
    int N, need_dx;
    ct_tune_shape s;
    ct_conv conv;
    ct_fc fc;
    ct_bn bn;
    ct_pool2d pool;
    int n;           /* bn: M; optim: parameters */
    int with_ref;    /* reference results computed (check units); timing units skip them */
    cl_mem d[10];
    float *h[12];
    size_t hn[12];
} tune_unit;

/* builds the unit of shape s at batch N (with reference results when u->with_ref) */
int tune_unit_setup(ct_ctx *c, tune_unit *u, const ct_tune_shape *s, int N);
void tune_unit_free(tune_unit *u);
/* report rows of a unit of shape s: op names (n of them) */
int tune_unit_ops(const ct_tune_shape *s, const char *ops[3]);
/* runs the unit once from fresh inputs and compares every result with the reference */
int tune_unit_check(ct_ctx *c, tune_unit *u, int *ok);
/* median over reps runs of each of the unit's rows into ms[0..nrows) */
int tune_unit_time(ct_ctx *c, tune_unit *u, int reps, double *ms);

/* ---- search (tune/search.c) ---- */
int tune_same_values(const ct_tune *a, const ct_tune *b);
#endif
