/* train.h: the training job (the seed's digit_classifier asset) and dataset evaluation.
 * Config in, model file + run folder + result out; the CLI only prints. */
#ifndef CLTRAIN_TRAIN_H
#define CLTRAIN_TRAIN_H
#include "config.h"
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

/* Evaluates images (u8, 784 each) selected by idx (NULL = 0..n-1) in eval mode; returns mean
 * loss and accuracy (fraction). logits (n x 10) when not NULL. */
int ct_evaluate_images(ct_model *m, const uint8_t *images, const uint8_t *labels, const uint32_t *idx, long n,
                       float mean, float std, double *loss, double *acc, float *logits);

#endif
