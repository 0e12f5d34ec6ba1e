/* checkpoint.h: resumable training checkpoints (last.safetensors in the run folder).
 *
 * A checkpoint is a safetensors file (written atomically through ct_st_write) holding
 *  - the model's state_dict with PyTorch's names (conv1.weight ... bn1.num_batches_tracked ...),
 *  - the optimizer state: Adam `optimizer.exp_avg.<name>` and `optimizer.exp_avg_sq.<name>`,
 *    SGD `optimizer.momentum_buffer.<name>`, one per trainable tensor,
 *  - optionally the best epoch's weights as `best.<name>` (parameters and running statistics),
 *  - `__metadata__` strings: "network" (the resolved network as JSON), "cltrain_checkpoint" (format version "1"), the scalar training
 *    state (epoch, batch, step, optimizer steps, best metric, bad epochs, ...), the effective
 *    config as YAML and JSON, the metrics.csv text so far, the device and the cltrain version.
 * Loading checks every name, dtype and shape against the model and every metadata value's
 * syntax and range; errors are CT_ERR_INPUT naming the file. */
#ifndef CLTRAIN_CHECKPOINT_H
#define CLTRAIN_CHECKPOINT_H
#include "model.h"
#include "safetensors.h"

#define CT_CKPT_VERSION "1"
#define CT_CKPT_MAX_FILE (2ULL << 30)

typedef struct {
    int epoch;                 /* epochs completed before `batch` */
    long batch;                /* batches of epoch `epoch` already trained (0 at an epoch boundary) */
    unsigned long long step;   /* global training step (Philox counter for dropout/augmentation) */
    long opt_steps;            /* optimizer steps taken (Adam's t) */
    long long num_batches_tracked;
    int adam;                  /* optimizer whose state is stored */
    double best;               /* best validation accuracy in percent; -1 = none yet */
    int best_epoch;            /* 1-based epoch of `best`; 0 = none */
    int bad_epochs;            /* early stopping: epochs without improvement */
    double train_seconds;      /* training time so far (for images/s) */
    long long train_images;    /* training images processed so far */
    /* mid-epoch state (batch > 0): host sums read so far and the device running sums */
    double ep_loss, ep_correct, ep_count, ep_seconds;
    float dev_sums[4];
    /* last finished epoch's numbers (for the result when nothing else is trained) */
    double last_train_loss, last_train_acc, last_val_loss, last_val_acc, last_lr;
    long subset;               /* --subset of the run (0 = all images); resume uses the same */
    char stamp[32];            /* the original run's time stamp */
    char device[256];
    char *config_yaml;         /* malloc'd by ct_checkpoint_read; NULL when writing is fine */
    char *config_json;
    char *metrics_csv;         /* metrics.csv as written so far (header included) */
} ct_ckpt_state;

void ct_ckpt_state_free(ct_ckpt_state *s);

/* Writes the model, its optimizer state, the best weights (best_p/best_s: pool images from
 * ct_model_snapshot, or NULL) and the state atomically to path. Refuses (CT_ERR_RUNTIME)
 * to write non-finite parameters. */
int ct_checkpoint_save(ct_model *m, const char *path, const ct_ckpt_state *s, const float *best_p,
                       const float *best_s);

/* Reads the metadata of a checkpoint file (checks the format and every value). The parsed
 * file is returned in *f for ct_checkpoint_apply (free with ct_st_free). */
int ct_checkpoint_read(const char *path, ct_ckpt_state *s, ct_st_file **f);

/* The network of a checkpoint: its `network` metadata, else `fallback` (may be NULL), else
 * DigitCNN from the tensor shapes (see ct_modelio_netdef). */
int ct_checkpoint_netdef(const ct_st_file *f, const char *path, const ct_netdef *fallback, ct_netdef *out);

/* Loads parameters, running statistics, num_batches_tracked, the optimizer moments and
 * opt_steps into m, and the best weights (when present) into *best_p and *best_s (malloc'd,
 * or NULL). Strict: every tensor of the file must be used. */
int ct_checkpoint_apply(ct_model *m, const ct_st_file *f, const char *path, const ct_ckpt_state *s, float **best_p,
                        float **best_s);

/* Resolves `arg` (a checkpoint file, or a run folder holding last.safetensors) into path. */
int ct_checkpoint_resolve(const char *arg, char *path, size_t cap);

#endif
