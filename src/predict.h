/* predict.h: prediction from files with a saved model: PNG/PGM pictures and IDX image files,
 * batched forward passes in eval mode on an OpenCL device, softmax on the host.
 *
 * Inputs: a 1 x 28 x 28 model (digits) gets pictures in MNIST form (preprocess.h) and IDX files
 * of u8 N x 28 x 28 as they are. Any other model: pictures become its channels (gray <-> RGB),
 * are resized to its H x W (bilinear, half-pixel centres) when the size differs and scaled to
 * [0,1]; IDX files need u8 N x H x W and a 1-channel model.
 * Network: the file's `network` metadata, else the --config's `network:` section (a file
 * written by PyTorch), else DigitCNN from the tensor shapes (as `cltrain evaluate`).
 * Normalisation: the model's metadata `config` (data.mean / data.std, a number or one value
 * per channel) when present, else the --config's data.mean / data.std when a config is given
 * (as `cltrain evaluate`), else MNIST's 0.1307 / 0.3081 for every channel. Class names: the
 * model's `class_names` metadata, else "0".."K-1". A bad input file is recorded (file named, what is wrong) and the
 * others are still predicted; a blank picture is a warning and is skipped. Only model and
 * device problems stop the whole job. */
#ifndef CLTRAIN_PREDICT_H
#define CLTRAIN_PREDICT_H

#include <stddef.h>

#include "config.h"
#include "image.h"

#define CT_PREDICT_DEFAULT_MEAN 0.1307f
#define CT_PREDICT_DEFAULT_STD 0.3081f
#define CT_PREDICT_MAX_CHANNELS 4

/* --- a loaded model, device opened on first use --------------------------------------------- */
typedef struct ct_predictor ct_predictor;

/* Reads and checks the model file (safetensors, DigitCNN names/shapes); the device is opened
 * on the first ct_predictor_run. batch_size: images per forward pass (reduced when the device
 * memory is too small). */
int ct_predictor_open(const char *model_path, const char *device, int batch_size, ct_predictor **out);
/* The same with a config (may be NULL): its `network:` for a file without `network` metadata, its
 * data.mean / data.std for a file without `config` metadata. */
int ct_predictor_open_config(const char *model_path, const char *device, int batch_size, const ct_config *cfg,
                             ct_predictor **out);
void ct_predictor_free(ct_predictor *p);
/* The normalisation used (from the model's metadata or the defaults), and whether it came from the metadata. */
void ct_predictor_norm(const ct_predictor *p, float *mean, float *std, int *from_metadata);
/* Device name once opened ("" before). */
const char *ct_predictor_device(const ct_predictor *p);
int ct_predictor_batch_size(const ct_predictor *p);
/* The model's input (c x h x w) and class count; its per-channel normalisation; class k's name. */
void ct_predictor_shape(const ct_predictor *p, int *c, int *h, int *w, int *classes);
void ct_predictor_norm_channels(const ct_predictor *p, float *mean, float *std);
const char *ct_predictor_class_name(const ct_predictor *p, int k);
/* n images of c*h*w floats in [0,1] (C x H x W each, not normalised; MNIST form for digit
 * models) -> probs (n x classes, softmax). */
int ct_predictor_run(ct_predictor *p, const float *images01, size_t n, float *probs);
/* The same, also keeping the raw logits (n x classes) when `logits` is not NULL. */
int ct_predictor_run_logits(ct_predictor *p, const float *images01, size_t n, float *probs, float *logits);

/* A picture (read with ct_image_load_rgb) as a model input of c x h x w floats in [0,1]: gray
 * (c = 1) or RGB (c = 3) samples, bilinear resize (half-pixel centres, edges clamped, as
 * PyTorch's interpolate(align_corners=False) without antialiasing) when the size differs.
 * Other channel counts are CT_ERR_INPUT. */
int ct_picture_to_input(const ct_image *im, int c, int h, int w, float *out);

/* --- files in, results out ------------------------------------------------------------------ */
typedef struct {
    const char *input;   /* the path as given (points into the caller's array) */
    long index;          /* image index inside the file (IDX); 0 for a picture */
    int label;           /* argmax (the class index) */
    const char *class_name; /* its name (points into the result's class_names) */
    float confidence;    /* max softmax probability */
    float *probs;        /* classes probabilities (owned) */
    float *logits;       /* classes raw network outputs before softmax (owned) */
    int low_confidence;  /* confidence < threshold */
} ct_prediction;

typedef struct {
    const char *input;
    long index;          /* -1: the whole file */
    int status;          /* CT_OK for a warning (blank picture), else the error status */
    char *message;       /* full message, starts with the file name */
} ct_predict_issue;

typedef struct {
    const char *model_path; /* resolved .safetensors path */
    const char *device;     /* selector or NULL */
    int batch_size;         /* prediction.batch_size */
    double threshold;       /* prediction.confidence_threshold */
    /* called for every issue as it happens (e.g. to print a warning), may be NULL */
    void (*on_issue)(const ct_predict_issue *issue, void *user);
    void *user;
    const ct_config *config; /* the --config (network and normalisation fallbacks), may be NULL */
} ct_predict_opts;

typedef struct {
    ct_prediction *pred;
    size_t n_pred;
    ct_predict_issue *issues;
    size_t n_issues;
    size_t n_failed;      /* inputs (files) with an error */
    size_t n_blank;       /* pictures skipped as blank */
    double avg_confidence;
    size_t low_count, high_count;
    float mean, std;      /* normalisation used (channel 0) */
    int channels, classes;
    float mean_c[CT_PREDICT_MAX_CHANNELS], std_c[CT_PREDICT_MAX_CHANNELS];
    char **class_names;   /* classes names (owned; set when there are predictions) */
    int norm_from_metadata;
    int batch_size;       /* images per forward pass actually used */
    char device[256];
} ct_predict_result;

/* Predicts every image of every input. Returns CT_OK when the job ran (per-input problems are
 * in r->issues / r->n_failed), or the status of a model/device failure. r must be freed with
 * ct_predict_result_free in every case. */
int ct_predict_files(const char *const *inputs, size_t n_inputs, const ct_predict_opts *o, ct_predict_result *r);
void ct_predict_result_free(ct_predict_result *r);

/* Softmax of K logits (max-subtracted, in double) into probs; returns the argmax. */
int ct_softmax_host(const float *logits, int K, float *probs);
int ct_softmax10(const float *logits, float *probs);

#endif
