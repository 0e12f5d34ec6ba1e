/* train_dist.c: synchronous data-parallel training over dist/dist.h. Every rank holds the whole
 * model and the whole data set; the global batch training.batch_size is split into contiguous
 * slices, one per rank; dropout and augmentation are keyed by the global image index, the loss
 * gradient is divided by the global batch and the gradient pool is summed over the ranks in one
 * reduction per step (with the stop flag in its last element), so the optimizer step is the same
 * on every rank and the same as one device's on the whole batch (up to summation order).
 * Evaluation is sharded with exact counts. In a plain run (one rank) every function here is the
 * single-device path. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "train_int.h"

void dp_slice(long n, int rank, int world, long *first, long *count)
{
    long lo = n * rank / world, hi = n * (rank + 1) / world;
    *first = lo;
    *count = hi - lo;
}

/* Every rank's 64-bit value of `what`; the ranks that differ from rank 0 fail with a message
 * naming them (on every rank, so all stop together). */
static int agree(trun *T, uint64_t h, const char *what)
{
    int64_t *all = calloc((size_t)T->world, sizeof *all);
    if (!all) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    all[T->rank] = (int64_t)h;
    int rc = ct_dist_sum_i64(all, (size_t)T->world);
    char list[256] = "";
    int bad = 0;
    for (int r = 1; rc == CT_OK && r < T->world; r++) {
        if (all[r] == all[0]) continue;
        size_t l = strlen(list);
        if (l < sizeof list - 16) snprintf(list + l, sizeof list - l, "%s%d", bad ? ", " : "", r);
        bad++;
    }
    free(all);
    CT_TRY(rc);
    if (bad)
        return ct_fail(CT_ERR_USAGE,
                       "the processes of this run disagree: %s on rank%s %s differ%s from rank 0's; start every "
                       "rank with the same config, options and data",
                       what, bad > 1 ? "s" : "", list, bad > 1 ? "" : "s");
    return CT_OK;
}

/* "0:pid 1:pid ..." into T->pids: a launcher that reports a dead process by its PID (MPICH's
 * hydra) can be matched to the rank from train.log */
static int note_pids(trun *T)
{
    int64_t *all = calloc((size_t)T->world, sizeof *all);
    if (!all) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    all[T->rank] = (int64_t)getpid();
    int rc = ct_dist_sum_i64(all, (size_t)T->world);
    size_t l = 0;
    for (int r = 0; rc == CT_OK && r < T->world && l < sizeof T->pids - 32; r++)
        l += (size_t)snprintf(T->pids + l, sizeof T->pids - l, "%s%d:%lld", r ? " " : "", r, (long long)all[r]);
    free(all);
    return rc;
}

int dp_setup(trun *T)
{
    T->rank = ct_dist_rank();
    T->world = ct_dist_size();
    if (T->world == 1) return CT_OK;
    long rem = (long)T->n_tr % T->tr->batch_size;
    if (T->cfg->training.sync_batchnorm && rem > 0 && rem < T->world)
        return ct_fail(CT_ERR_USAGE,
                       "training.sync_batchnorm: the last batch of an epoch has %ld images, fewer than the %d "
                       "processes (each needs one for the BatchNorm statistics); change training.batch_size or the "
                       "number of processes",
                       rem, T->world);
    if (T->tr->batch_size % T->world != 0)
        return ct_fail(CT_ERR_USAGE,
                       "training.batch_size %d is the global batch of all %d processes: it must be divisible by "
                       "their number (e.g. %d); change it with --set training.batch_size=N or run another number "
                       "of processes",
                       T->tr->batch_size, T->world, (T->tr->batch_size / T->world + 1) * T->world);
    char *json = NULL, *md5 = NULL;
    int rc = ct_config_to_json(T->cfg, &json);
    if (rc == CT_OK) rc = ct_dataset_md5_json(&T->train, T->test.n ? &T->test : NULL, &md5);
    uint64_t hc = 0, hd = 0;
    if (rc == CT_OK) {
        hc = ct_hash64(json, strlen(json), (uint64_t)T->subset);
        if (T->resuming) hc = ct_hash64(T->o->resume, strlen(T->o->resume), hc);
        hd = ct_hash64(md5, strlen(md5), 0);
    }
    free(json);
    free(md5);
    CT_TRY(rc);
    CT_TRY(agree(T, hc, "the config (or --subset, --resume)"));
    CT_TRY(agree(T, hd, "the data checksums"));
    return note_pids(T);
}

static int share_pool(trun *T, cl_mem b, size_t floats)
{
    if (!b || floats == 0) return CT_OK;
    float *h = malloc(floats * sizeof *h);
    if (!h) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    int rc = T->rank == 0 ? ct_buffer_read(T->ctx, b, 0, floats * 4, h) : CT_OK;
    if (rc == CT_OK) rc = ct_dist_bcast(h, floats * 4, 0);
    if (rc == CT_OK) rc = ct_buffer_write(T->ctx, b, 0, floats * 4, h);
    free(h);
    return rc;
}

int dp_share_model(trun *T)
{
    if (T->world == 1) return CT_OK;
    ct_model *m = T->m;
    CT_TRY(share_pool(T, m->params, m->n_params));
    CT_TRY(share_pool(T, m->state, m->n_state));
    CT_TRY(share_pool(T, m->opt_m, m->n_params));
    CT_TRY(share_pool(T, m->opt_v, m->n_params));
    int64_t counters[2] = {m->opt_steps, m->num_batches_tracked};
    CT_TRY(ct_dist_bcast(counters, sizeof counters, 0));
    m->opt_steps = (long)counters[0];
    m->num_batches_tracked = counters[1];
    return ct_dist_bcast(m->nbt, (size_t)m->n_nodes * sizeof *m->nbt, 0);
}

/* Sums the gradient pool over the ranks, with the stop flag travelling in its last element. */
static int reduce_grads(trun *T, int flag)
{
    ct_model *m = T->m;
    if (!T->gradbuf && !(T->gradbuf = malloc((m->n_params + 1) * sizeof *T->gradbuf)))
        return ct_fail(CT_ERR_NOMEM, "out of host memory for the gradient reduction");
    CT_TRY(ct_finish(T->ctx));
    double t0 = ct_now();
    CT_TRY(ct_buffer_read(T->ctx, m->grads, 0, m->n_params * 4, T->gradbuf));
    T->gradbuf[m->n_params] = flag ? 1.0f : 0.0f;
    CT_TRY(ct_dist_sum_f32(T->gradbuf, m->n_params + 1));
    T->stop = T->gradbuf[m->n_params] > 0.0f;
    CT_TRY(ct_buffer_write(T->ctx, m->grads, 0, m->n_params * 4, T->gradbuf));
    T->comm_s += ct_now() - t0;
    T->comm_steps++;
    return CT_OK;
}

/* a rank without images in this (last, short) batch: no gradient, BN's counters still advance */
static int empty_slice(trun *T)
{
    ct_model *m = T->m;
    int has_bn = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nbt[i] >= 0) m->nbt[i]++, has_bn = 1;
    if (has_bn) m->num_batches_tracked++;
    return ct_buffer_fill_zero(T->ctx, m->grads, 0, m->n_params * 4);
}

/* Test hook: with CLTRAIN_TEST_SHARDS=PREFIX each rank appends, per step, the step and the data
 * set indices of the images it trained to PREFIX.<rank> (tests/cli_mpi.sh checks that the ranks'
 * slices are disjoint and cover each global batch in order). */
static void note_shard(trun *T, long first, long n)
{
    const char *pre = getenv("CLTRAIN_TEST_SHARDS");
    if (!pre || !*pre) return;
    char path[4200];
    snprintf(path, sizeof path, "%s.%d", pre, T->rank);
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%u", T->step);
    for (long i = 0; i < n; i++) fprintf(f, " %u", T->tidx[first + i]);
    fputc('\n', f);
    fclose(f);
}

int dp_train_step(trun *T, long first, int B, int flag)
{
    ct_model *m = T->m;
    const uint64_t seed = (uint64_t)T->tr->seed;
    if (T->world == 1) {
        note_shard(T, first, B);
        cl_mem devb = NULL;
        CT_TRY(stage_batch(m, &T->s, T->train.images, T->train.labels, T->tidx, first, B, &devb));
        CT_TRY(ct_batch_prepare(T->ctx, &T->aug, B, devb, m->x, seed, T->step));
        return ct_model_train_step(m, B, &T->opt, seed, T->step);
    }
    long lo, n;
    dp_slice(B, T->rank, T->world, &lo, &n);
    m->loss_norm = B;
    m->sample_base = lo;
    T->aug.index_base = (uint32_t)lo;
    note_shard(T, first + lo, n);
    if (n > 0) {
        cl_mem devb = NULL;
        CT_TRY(stage_batch(m, &T->s, T->train.images, T->train.labels, T->tidx, first + lo, (int)n, &devb));
        CT_TRY(ct_batch_prepare(T->ctx, &T->aug, (int)n, devb, m->x, seed, T->step));
        CT_TRY(ct_model_forward(m, (int)n, 1, seed, T->step));
        CT_TRY(ct_model_loss(m, (int)n, 1));
        CT_TRY(ct_model_backward(m, (int)n));
    } else {
        CT_TRY(empty_slice(T));
    }
    CT_TRY(reduce_grads(T, flag));
    return ct_model_optim_step(m, &T->opt);
}

int dp_sums(trun *T, double sums[3])
{
    CT_TRY(ct_model_read_sums(T->m, sums, 1));
    return ct_dist_sum_f64(sums, 3);
}

int dp_evaluate(trun *T, const uint8_t *images, const uint8_t *labels, const uint32_t *idx, long n, double *loss,
                double *acc)
{
    long lo, cnt;
    dp_slice(n, T->rank, T->world, &lo, &cnt);
    double sums[3];
    CT_TRY(eval_sums(T->m, &T->aug, T->train.classes, images, labels, idx, lo, cnt, sums, NULL));
    CT_TRY(ct_dist_sum_f64(sums, 3));
    *loss = sums[2] > 0 ? sums[0] / sums[2] : 0;
    *acc = sums[2] > 0 ? sums[1] / sums[2] : 0;
    return CT_OK;
}

int dp_agree_stats(trun *T)
{
    ct_model *m = T->m;
    if (T->world == 1 || m->n_state == 0 || T->cfg->training.sync_batchnorm) return CT_OK;
    float *h = malloc(m->n_state * sizeof *h);
    if (!h) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    int rc = ct_buffer_read(T->ctx, m->state, 0, m->n_state * 4, h);
    if (rc == CT_OK) rc = ct_dist_sum_f32(h, m->n_state);
    for (size_t i = 0; rc == CT_OK && i < m->n_state; i++) h[i] /= (float)T->world;
    if (rc == CT_OK) rc = ct_buffer_write(T->ctx, m->state, 0, m->n_state * 4, h);
    free(h);
    return rc;
}

int dp_check_params(trun *T, int epoch)
{
    if (T->world == 1) return CT_OK;
    ct_model *m = T->m;
    float *h = malloc(m->n_params * sizeof *h);
    if (!h) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    int rc = ct_buffer_read(T->ctx, m->params, 0, m->n_params * 4, h);
    uint64_t hash = rc == CT_OK ? ct_hash64(h, m->n_params * 4, 0) : 0;
    free(h);
    CT_TRY(rc);
    char what[64];
    snprintf(what, sizeof what, "the parameters after epoch %d", epoch);
    return agree(T, hash, what);
}

int dp_any(trun *T, int flag)
{
    if (T->world == 1) return flag;
    int any = flag;
    if (ct_dist_any(flag, &any) != CT_OK) return 1;
    return any;
}

void dp_free(trun *T)
{
    free(T->gradbuf);
    T->gradbuf = NULL;
}
