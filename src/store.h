/* store.h: the local model store (the seed's model_storage resource, local-disk flavour).
 *
 * A model is any `*.safetensors` file in `model_save_dir` whose header holds DigitCNN's
 * PyTorch state_dict names (conv1.weight ... fc3.bias), whoever wrote it: cltrain or
 * PyTorch. Its name is the file stem. Listing is newest first (file modification time, then
 * name). Deployed copies live in `<model_save_dir>/production/` and the production marker is
 * `<model_save_dir>/production.json` (written atomically by deploy.c).
 * A model's run folder is `<runs_dir>/<name>/` (config.yaml, metrics.csv, train.log from
 * training; evaluation.json and the pictures from evaluation).
 *
 * What it does not do: load tensors onto a device (modelio.h), or any object-store (S3)
 * backend. */
#ifndef CLTRAIN_STORE_H
#define CLTRAIN_STORE_H

#include <stddef.h>
#include <time.h>

#include "config.h"

#define CT_STORE_PATH_MAX 4096
#define CT_STORE_NAME_MAX 512
#define CT_STORE_PRODUCTION_DIR "production"
#define CT_STORE_MARKER "production.json"

typedef struct {
    char name[CT_STORE_NAME_MAX];  /* file stem, e.g. mnist_cnn_20261126_114210_acc99p12 */
    char path[CT_STORE_PATH_MAX];  /* <model_save_dir>/<name>.safetensors */
    long long size_bytes;
    time_t mtime;
    long mtime_ns;
    char modified[32];             /* "YYYY-mm-dd HH:MM:SS", local time */
    char source[16];               /* "cltrain" (metadata says so) or "external" (e.g. PyTorch) */
    double val_accuracy;           /* percent, from the file's metadata; -1 when unknown */
    double test_accuracy;          /* fraction: evaluation.json, else the file's metadata; -1 unknown */
    int evaluated;                 /* the run folder holds an evaluation.json for this model */
    int production;                /* the production marker names this model as its source */
} ct_store_entry;

typedef struct {
    int present;                              /* a production.json was found and parsed */
    char model_name[CT_STORE_NAME_MAX];       /* e.g. production_model_0p99 */
    char path[CT_STORE_PATH_MAX];             /* the deployed copy */
    char source_model[CT_STORE_NAME_MAX];     /* the store model it came from */
    char source_path[CT_STORE_PATH_MAX];
    char deployment_status[32], deployment_type[32], deployed_at[32];
    double accuracy;                          /* test accuracy (fraction) or -1 */
} ct_store_production;

/* Lists the models in model_save_dir (not recursing into production/), newest first. A missing
 * folder is an empty store. Files that are not DigitCNN safetensors are skipped (named with
 * -v). *out is malloc'd (free()); *n may be 0. */
int ct_store_list(const ct_config *cfg, ct_store_entry **out, size_t *n);

/* Reads <model_save_dir>/production.json; a missing marker gives present = 0 and CT_OK, a
 * corrupt one CT_ERR_INPUT naming the file. */
int ct_store_production_read(const ct_config *cfg, ct_store_production *p);

/* Resolves a model given by name (as listed; with or without .safetensors; names of deployed
 * copies in production/ too) or by path (anything with a '/' or an existing file). NULL or ""
 * means the newest model. Errors: a missing file (CT_ERR_INPUT, names it), an unknown name
 * (CT_ERR_USAGE, lists the available names), an empty store (CT_ERR_INPUT, says to train).
 * path_out/name_out hold CT_STORE_PATH_MAX / CT_STORE_NAME_MAX bytes. */
int ct_store_resolve(const ct_config *cfg, const char *spec, char *path_out, char *name_out);

/* The model's run folder <runs_dir>/<name> (created when missing, mkdir -p). */
int ct_store_run_dir(const ct_config *cfg, const char *name, char *dir_out, size_t cap);

/* Checks that a file's safetensors header has DigitCNN's tensor names without reading the
 * tensors. On success (CT_OK) *metadata_json is the malloc'd __metadata__ object as JSON text
 * ("{}" when none; caller frees) when metadata_json != NULL. Not a DigitCNN / not safetensors:
 * CT_ERR_INPUT naming the file and what is wrong. */
int ct_store_peek(const char *path, char **metadata_json);

/* MD5 hex of a whole file (for evaluation.json / deploy provenance). */
int ct_store_file_md5(const char *path, char hex[33]);

/* Local time "YYYY-mm-ddTHH:MM:SS+ZZZZ" (ISO 8601) of now, into buf (>= 32 bytes). */
void ct_store_now_iso(char *buf, size_t cap);

#endif
