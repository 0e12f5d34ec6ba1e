/* train.h: the training job (the seed's digit_classifier asset) and dataset evaluation.
 * Config in, model file + run folder + result out; the CLI only prints. */
#ifndef CLTRAIN_TRAIN_H
#define CLTRAIN_TRAIN_H
#include "augment.h"
#include "config.h"
#include "data/dataset.h"
#include "idx.h"
#include "model.h"

typedef struct {
    const char *device;      /* --device, overrides config.device */
    int json;                /* print a final JSON line (the caller does) */
    long subset;             /* >0: use only the first `subset` training-split images (tests) */
    int quiet_progress;      /* no progress bar */
    const char *resume;      /* checkpoint file to continue from (see ct_train_resume_config), or NULL */
    int handle_signals;      /* SIGINT/SIGTERM: finish the step, write a checkpoint, return CT_ERR_INTERRUPTED */
} ct_train_opts;

typedef struct {
    char model_path[4096], run_dir[4096], model_name[512];
    char device[256];
    double final_val_accuracy, best_val_accuracy, final_train_loss, final_train_accuracy, final_val_loss;
    double test_accuracy, test_loss; /* -1 when the test set was not available */
    int epochs_run, configured_epochs, early_stopped;
    double learning_rate;            /* the last epoch's learning rate */
    long long model_parameters;
    double train_images_per_second;  /* training steps only */
    double seconds;                  /* whole job */
    long train_samples, val_samples, test_samples;
    char checkpoint_path[4200];      /* the last checkpoint written ("" when none) */
    char checkpoint_dir[4096];       /* its run folder, as named after the run ended */
    int resumed_from_epoch;          /* epochs in the checkpoint resumed from (0 = fresh run) */
    int world_size;                  /* processes of a data-parallel run (1: a plain run) */
    int rank;                        /* this process's rank (only rank 0 writes and reports) */
    double comm_seconds_per_step;    /* gradient reduction per step: read-back, allreduce, write */
    double step_seconds;             /* whole training step (wall clock, averaged over the run) */
    size_t gradient_bytes;           /* bytes reduced per step */
} ct_train_result;

/* Trains. Returns CT_OK, or CT_ERR_INTERRUPTED after SIGINT/SIGTERM (with handle_signals) once
 * r->checkpoint_path is written, or another status with ct_last_error() set (a non-finite loss
 * names the epoch, the batch and the last good checkpoint). With o->resume the model, optimizer,
 * schedule, RNG counters, early-stopping state, best weights and metrics continue from the
 * checkpoint: on the same device the result is bit-identical to an uninterrupted run. */
int ct_train(const ct_config *cfg, const ct_train_opts *o, ct_train_result *r);

/* For --resume ARG (a run folder or a checkpoint file): resolves the checkpoint into path and
 * loads the config stored in it into cfg (over whatever cfg holds); *subset gets the run's
 * --subset. Overrides (--set) go on top afterwards. */
int ct_train_resume_config(const char *arg, ct_config *cfg, char *path, size_t cap, long *subset);

/* Loads MNIST (train != 0: training set) from dir; when the files are missing and
 * tools/fetch-mnist.sh is reachable, runs it first (fetch != 0). */
int ct_load_mnist(const char *dir, int train, int fetch, ct_mnist *out);

/* Loads the data set in dir (IDX files or image folders, see data/dataset.h); a missing MNIST
 * is fetched first when fetch != 0. */
int ct_load_dataset(const char *dir, int train, int fetch, ct_dataset *out);
/* The training and test sets of cfg->data.dir with data.class_names applied and the pair
 * checked; without need_test a missing test set is a warning (test->n = 0). */
int ct_load_train_data(const ct_config *cfg, int fetch, ct_dataset *train, ct_dataset *test, int need_test);
/* The image shape and per-channel data.mean/data.std of the data set into a (the rest of a
 * is left alone); a list whose length is not the channel count is an error. */
int ct_data_norm(const ct_config *cfg, const ct_dataset *d, ct_augment *a);

/* Evaluates images (u8, norm->c x h x w each; c = 0: 1 x 28 x 28) selected by idx (NULL =
 * 0..n-1) in eval mode, normalised as `norm` says (never augmented); returns mean loss and
 * accuracy (fraction). logits (n x classes) when not NULL. */
int ct_evaluate_images(ct_model *m, const ct_augment *norm, int classes, const uint8_t *images, const uint8_t *labels,
                       const uint32_t *idx, long n, double *loss, double *acc, float *logits);

#endif
