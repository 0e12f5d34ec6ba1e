/* config.h: the training configuration: built-in defaults, YAML files (libyaml), `--set`
 * overrides, validation, and the effective config written back as YAML or JSON.
 *
 * Field names are the YAML key names, grouped by section exactly as in configs/default.yaml
 * (which documents every key and must equal ct_config_defaults()). A file is a mapping of
 * sections, each a mapping of key: scalar; the one top-level scalar key is `device`.
 *
 * Scalar rules (YAML 1.2 core schema, strict):
 *  - integers: plain decimal, optional sign, no leading zeros ("010" is refused: YAML 1.1
 *    reads it as octal), no quotes; values that overflow are refused.
 *  - numbers (double fields): plain decimal integers or floats (1e-5, 0.5, .5, 15),
 *    .inf/.nan spellings are read but refused by the range checks (every number is finite).
 *  - booleans: true/false, yes/no, on/off, each in lowercase, Capitalised or UPPERCASE
 *    (what YAML 1.1 and PyYAML accept; y/n and 1/0 are refused). Written back as true/false.
 *  - strings: any scalar, quoted or plain; at most CT_CONFIG_STR_MAX-1 bytes, no NUL bytes.
 *  - lists (flow `[a, b]` or block `- a` items, scalars only): data.mean and data.std take a
 *    number or a list of 1..4 numbers; data.class_names a list of 1..256 non-empty names of at
 *    most 63 bytes (or null / [] = none).
 *    A null (empty value, ~, null) is allowed only where an empty string means "none"
 *    (deployment.custom_model_name, device).
 *  - explicit tags are accepted only when they match the key's type (!!int, !!float, !!bool,
 *    !!str, !!null, !!map on a section); anchors, aliases, duplicate keys, nested structures
 *    below a key, more than one document and unknown sections/keys are errors.
 *
 * Errors (status CT_ERR_USAGE, CT_ERR_NOMEM on allocation failure) read
 *   FILE:LINE:COL: section.key: what is wrong; allowed: what is allowed
 * with 1-based line and column, or "--set section.key=value: ..." for overrides. A failed
 * load or set leaves the struct exactly as it was.
 *
 * Not done here: anything about devices, data or models; the CLI decides the order
 * (defaults, then --config FILE, then each --set, then ct_config_validate). */
#ifndef CLTRAIN_CONFIG_H
#define CLTRAIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "nn/netdef.h"

#define CT_CONFIG_STR_MAX 256          /* bytes in every string field, NUL included */
#define CT_CONFIG_MAX_FILE (1u << 20)  /* config files larger than 1 MiB are refused */
#define CT_CONFIG_MAX_DEPTH 32         /* hard cap on YAML nesting (the schema uses 2) */

typedef struct {
    int conv1_channels;    /* 1..4096, default 32 */
    int conv2_channels;    /* 1..4096, default 64 */
    int conv3_channels;    /* 1..4096, default 128 */
    double dropout1_rate;  /* [0,1), Dropout2d after conv2, default 0.1 */
    double dropout2_rate;  /* [0,1), Dropout after fc1, default 0.2 */
    int hidden_size;       /* even, 2..65536 (fc2 has hidden_size/2 units), default 256 */
    bool use_batch_norm;   /* default true */
} ct_config_model;

typedef struct {
    int batch_size;          /* 1..65536, default 64 */
    double learning_rate;    /* > 0, default 0.001 */
    int epochs;              /* >= 1, default 30 */
    char optimizer_type[CT_CONFIG_STR_MAX]; /* "adam" | "sgd" (stored lowercase), default "adam" */
    double momentum;         /* [0,1), SGD only, default 0.9 */
    double weight_decay;     /* >= 0, added to the gradient (not AdamW), default 1e-5 */
    int64_t seed;            /* >= 0, default 42 */
    double validation_split; /* (0,1), default 0.2 */
    int log_interval;        /* batches between log lines, >= 1, default 100 */
    bool sync_batchnorm;     /* data-parallel runs: BatchNorm statistics over the global batch, default false */
} ct_config_training;

typedef struct {
    bool use_lr_scheduler; /* StepLR, default true */
    int lr_step_size;      /* epochs per step, >= 1, default 10 */
    double lr_gamma;       /* (0,1], default 0.1 */
} ct_config_scheduler;

typedef struct {
    bool use_early_stopping; /* default true */
    int patience;            /* epochs without improvement, >= 1, default 7 */
    double min_delta;        /* in validation-accuracy percent, >= 0, default 0.001 */
    bool restore_best;       /* keep the best epoch's weights at the end, default true */
} ct_config_early_stopping;

typedef struct {
    bool use_data_augmentation; /* default true */
    double rotation_degrees;    /* [0,180], default 15.0 */
    double translation_pixels;  /* fraction of the image size, [0,0.5], default 0.1 */
    double scale_range_min;     /* (0,4], <= scale_range_max, default 0.9 */
    double scale_range_max;     /* (0,4], default 1.1 */
    bool horizontal_flip;       /* mirror left-right with p = 0.5 (same Philox draw scheme), default false */
} ct_config_augmentation;

typedef struct {
    bool save_model;                            /* default true */
    char model_save_dir[CT_CONFIG_STR_MAX];     /* non-empty, default "./models" */
    char model_name_prefix[CT_CONFIG_STR_MAX];  /* file-name safe, default "mnist_cnn" */
    char runs_dir[CT_CONFIG_STR_MAX];           /* non-empty, default "./runs" */
} ct_config_output;

#define CT_CONFIG_MAX_CHANNELS 4      /* values in a per-channel data.mean / data.std list */
#define CT_CONFIG_MAX_CLASSES 256     /* names in data.class_names */
#define CT_CONFIG_CLASS_NAME_MAX 64   /* bytes in one class name, NUL included */

typedef struct {
    char dir[CT_CONFIG_STR_MAX]; /* non-empty, default "data/mnist": IDX files or train/ test/ folders */
    /* data.mean / data.std: one number (every channel) or a list with one number per channel
     * (`mean: [0.485, 0.456, 0.406]`); with a list, mean/std hold its first value. */
    double mean;                 /* finite, default 0.1307 */
    double std;                  /* > 0, default 0.3081 */
    int mean_n, std_n;           /* 0: given as one number; else the list's length (1..4) */
    double mean_list[CT_CONFIG_MAX_CHANNELS], std_list[CT_CONFIG_MAX_CHANNELS];
    /* data.class_names: optional list of names, one per class (default: the class folders'
     * names, or "0".."K-1" for IDX sets); 0 = not given */
    int class_names_n;
    char class_names[CT_CONFIG_MAX_CLASSES][CT_CONFIG_CLASS_NAME_MAX];
    /* where each list was given ("FILE:LINE:COL" or "--set data.mean=..."), for messages about
     * a length that does not fit the data; not written back */
    char mean_where[CT_CONFIG_STR_MAX], std_where[CT_CONFIG_STR_MAX], class_names_where[CT_CONFIG_STR_MAX];
} ct_config_data;

typedef struct {
    int every_epochs; /* >= 0, 0 = off, default 1 */
} ct_config_checkpoint;

typedef struct {
    int batch_size; /* 1..65536, default 1000 */
} ct_config_evaluation;

typedef struct {
    double accuracy_threshold;                 /* [0,1], default 0.90 */
    char custom_model_name[CT_CONFIG_STR_MAX]; /* "" = none; else file-name safe */
    bool force_deploy;                         /* default false */
} ct_config_deployment;

typedef struct {
    int batch_size;              /* 1..65536, default 64 */
    double confidence_threshold; /* [0,1], default 0.8 */
    bool return_probabilities;   /* default false */
} ct_config_prediction;

typedef struct {
    ct_config_model model;
    ct_config_training training;
    ct_config_scheduler scheduler;
    ct_config_early_stopping early_stopping;
    ct_config_augmentation augmentation;
    ct_config_output output;
    ct_config_data data;
    ct_config_checkpoint checkpoint;
    ct_config_evaluation evaluation;
    ct_config_deployment deployment;
    ct_config_prediction prediction;
    char device[CT_CONFIG_STR_MAX]; /* top-level key; "" = choose automatically */
    /* The top-level `network:` section (nn/netparse.h), resolved; NULL when absent: then the
     * network is the seed's DigitCNN of the `model:` keys (ct_config_netdef). Struct copies share
     * it; ct_config_free releases it once. `--set` cannot change it. */
    ct_netdef *network;
    char network_file[CT_CONFIG_STR_MAX]; /* the file it was read from */
    int network_line, network_col;        /* 1-based position of network.input */
} ct_config;

/* Releases the network section (c->network = NULL); the other fields stay. */
void ct_config_free(ct_config *c);

/* The candidate closest to s[0..len) by case-insensitive edit distance (within 3 edits and
 * closer than the name's own length), or NULL: the did-you-mean of config and network errors. */
const char *ct_closest_name(const char *s, size_t len, const char *const *cands, size_t n);

/* Fills every field with its built-in default (the values in configs/default.yaml). */
void ct_config_defaults(ct_config *c);

/* Parses the YAML file at `path` over the current values (keys it omits keep theirs; an
 * empty file changes nothing). Checks types and per-key ranges; cross-field checks are left
 * to ct_config_validate so that later --set overrides can still fix them. */
int ct_config_load(ct_config *c, const char *path);

/* Applies one "section.key=value" (or "device=value") override; the value is one YAML
 * scalar under the same rules as a file. */
int ct_config_set(ct_config *c, const char *assignment);

/* Every per-key rule plus the cross-field ones (scale_range_min <= scale_range_max,
 * hidden_size even, ...). Messages name the dotted key(s) but no file position. */
int ct_config_validate(const ct_config *c);

/* The effective config as YAML in the layout of configs/default.yaml (no comments), which
 * ct_config_load reads back to an identical struct (and the same network: a `network:`
 * section follows the others when c->network is set). *out is malloc'd; free() it. */
int ct_config_to_yaml(const ct_config *c, char **out);

/* Per-channel normalisation for a data set of `channels` channels: a single number is used
 * for every channel; a list must have exactly `channels` values, else CT_ERR_USAGE naming the
 * key and where it was given. mean/std get `channels` values. */
int ct_config_data_norm(const ct_config_data *d, int channels, float *mean, float *std);

/* The same as one compact JSON object of sections, e.g.
 * {"model":{"conv1_channels":32,...},...,"device":""}, plus "network": (netdef.h's JSON form)
 * when c->network is set. *out is malloc'd; free() it. */
int ct_config_to_json(const ct_config *c, char **out);

#endif
