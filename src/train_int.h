/* train_int.h: the parts of the training job shared by train.c (setup, epoch loop),
 * train_data.c (data, batches, evaluation), train_run.c (run folder, log, checkpoints, model
 * file) and train_dist.c (data-parallel glue over dist/dist.h). Not a public interface. */
#ifndef CLTRAIN_TRAIN_INT_H
#define CLTRAIN_TRAIN_INT_H
#include <stdio.h>

#include "checkpoint.h"
#include "clctx.h"
#include "train.h"

/* double-buffered upload of raw batches */
typedef struct {
    size_t isz; /* bytes per image */
    cl_mem u8[2];
    uint8_t *host_u8[2];
    int32_t *host_lab[2];
    cl_event done[2];
    int cur;
} stager;

int stager_init(ct_ctx *c, stager *s, int max_batch, size_t isz);
void stager_free(stager *s);
/* Gathers images idx[first..first+N) (idx NULL: first..first+N) into the next staging slot and
 * enqueues its upload (non-blocking) plus the labels into the model's target buffer; returns the
 * device buffer with the images. */
int stage_batch(ct_model *m, stager *s, const uint8_t *images, const uint8_t *labels, const uint32_t *idx,
                long first, int N, cl_mem *dev);
/* Evaluation sums (loss * count, correct, count) of images idx[first..first+n) (or first..). */
int eval_sums(ct_model *m, const ct_augment *norm, int classes, const uint8_t *images, const uint8_t *labels,
              const uint32_t *idx, long first, long n, double sums[3], float *logits);

typedef struct {
    FILE *log;
    int tty;
    int on; /* this process writes (rank 0) */
} logger;

void logline(logger *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* growing text buffer for metrics.csv */
typedef struct {
    char *s;
    size_t n, cap;
} tbuf;

int tbuf_add(tbuf *b, const char *s);

extern const char CT_CSV_HEADER[];

/* The whole state of one training job. */
typedef struct {
    const ct_config *cfg;
    const ct_config_training *tr;
    const ct_train_opts *o;
    ct_train_result *r;
    ct_dataset train, test;
    char *class_names; /* JSON list for the model files' metadata */
    uint32_t *tidx, *vidx;
    size_t n_tr, n_val;
    long nb; /* global batches per epoch */
    ct_ctx *ctx;
    ct_model *m;
    struct ct_prewarm *warm; /* evaluation kernels compiled in another thread (nn/prewarm.h) */
    stager s;
    float *best_p, *best_s;
    logger L;
    FILE *csv;
    char tmp_run[4096], end_run[4200], stamp[32];
    tbuf csvtext;
    ct_ckpt_state ck;
    ct_st_file *ckf;
    ct_netdef net;
    int resuming;
    int good_ckpt_epoch; /* epochs in the last good checkpoint (-1: none) */
    int good_is_resume;  /* ... which is the one this run resumed from */
    long subset;
    ct_optim opt;
    ct_augment aug;
    double best, train_time;
    long long train_images;
    int bad_epochs, best_epoch, start_epoch;
    long start_batch;
    unsigned step;
    /* the epoch in progress */
    double ep_loss, ep_correct, ep_count, t0;
    /* data parallel (train_dist.c); rank 0 of 1 in a plain run */
    int rank, world;
    int stop;         /* every rank agreed to stop (the flag travelled with a reduction) */
    char pids[1024];  /* "rank:pid ..." of every rank */
    float *gradbuf;   /* host image of the gradient pool + the stop flag */
    double comm_s;    /* seconds in communication during training steps */
    long comm_steps;
} trun;

/* train_run.c */
int run_open(trun *T);        /* run folder, config.yaml, train.log, metrics.csv (rank 0) */
int run_checkpoint(trun *T);  /* RUN/last.safetensors from T->ck (rank 0; BN statistics agreed first) */
int run_save_best(trun *T, int epoch, double acc); /* RUN/best.safetensors */
int run_save_model(trun *T, double saved_acc);     /* the model file + the run folder's final name */
void run_describe_good(trun *T, char *buf, size_t cap);

/* train_dist.c */
int dp_setup(trun *T);                  /* rank/world, batch divisibility, config + data agreement */
int dp_share_model(trun *T);            /* rank 0's parameters, statistics and optimizer state to all */
void dp_slice(long n, int rank, int world, long *first, long *count); /* rank's share of n */
int dp_train_step(trun *T, long first, int B, int flag); /* this rank's slice of global batch [first, first+B); flag: stop wanted here */
int dp_sums(trun *T, double sums[3]);   /* running training sums of every rank, reset */
int dp_evaluate(trun *T, const uint8_t *images, const uint8_t *labels, const uint32_t *idx, long n, double *loss,
                double *acc);           /* sharded evaluation, exact counts */
int dp_agree_stats(trun *T);            /* BatchNorm running statistics averaged over the ranks */
int dp_check_params(trun *T, int epoch); /* every rank holds the same parameters */
int dp_any(trun *T, int flag);          /* 1 when flag is set on any rank (interrupt agreement) */
void dp_free(trun *T);

#endif
