/* evaluate.h: the seed's model_evaluation asset: a saved model on the MNIST test set, with
 * test accuracy and loss, the confusion matrix, scikit-learn's classification report, and
 * evaluation.json + confusion_matrix.png (+ training_curves.png when the run folder has a
 * metrics.csv) written into the model's run folder.
 *
 * Metric conventions are scikit-learn's (classification_report, zero_division=0): precision
 * of a class never predicted is 0, recall of a class never present is 0, F1 = 2PR/(P+R) or 0;
 * the report covers the labels present in the true or the predicted labels; macro = plain
 * mean over those labels, weighted = mean weighted by support.
 * What it does not do: pick a deployment (deploy.h) or draw (plot.h). */
#ifndef CLTRAIN_EVALUATE_H
#define CLTRAIN_EVALUATE_H

#include <stdio.h>

#include "config.h"
#include "data/dataset.h"
#include "safetensors.h"
#include "store.h"

#define CT_NUM_CLASSES 10   /* the digit sets' class count (IDX data sets default to it) */
#define CT_MAX_CLASSES 256  /* as data/dataset.h: labels are u8 */

typedef struct {
    int classes;
    long *cm;                 /* classes x classes, row-major: rows = true label, columns = predicted */
    long *support;            /* row sums */
    long *predicted;          /* column sums */
    int *present;             /* label appears in the truth or the predictions */
    double *precision, *recall, *f1;
    char **names;             /* class names (owned copies); "0", "1", ... when none were given */
    double precision_macro, recall_macro, f1_macro;
    double precision_weighted, recall_weighted, f1_weighted;
    double accuracy;
    long total;
} ct_class_report;

#define CT_REPORT_CM(r, i, j) ((r)->cm[(size_t)(i) * (size_t)(r)->classes + (size_t)(j)])

/* Every metric from a classes x classes confusion matrix (row-major); names may be NULL (then
 * the labels' numbers). Allocates r's arrays: free with ct_class_report_free. */
int ct_class_report_compute(const long *cm, int classes, const char *const *names, ct_class_report *r);
void ct_class_report_free(ct_class_report *r);
/* scikit-learn's classification_report text (with target_names = the class names) with
 * `digits` decimals; malloc'd (free()). */
char *ct_class_report_text(const ct_class_report *r, int digits);
/* The confusion matrix as an aligned table (rows actual, columns predicted, labelled with the
 * class names; long names are cut in column headers); malloc'd. */
char *ct_confusion_text(const ct_class_report *r);

typedef struct {
    const char *model;  /* name or path (store.h); NULL = the newest model */
    const char *device; /* overrides config.device */
    int no_plots;       /* skip the PNG files */
} ct_eval_opts;

typedef struct {
    char model_path[CT_STORE_PATH_MAX], model_name[CT_STORE_NAME_MAX], model_md5[33];
    char run_dir[CT_STORE_PATH_MAX], device[256], data_dir[CT_CONFIG_STR_MAX], evaluated_at[32];
    char evaluation_json[CT_STORE_PATH_MAX + 32], confusion_png[CT_STORE_PATH_MAX + 32];
    char curves_png[CT_STORE_PATH_MAX + 32]; /* "" when no metrics.csv (or drawing it failed) */
    double test_accuracy, test_loss;
    long test_samples;
    float mean, std;                         /* normalisation used (the model's, else the config's): channel 0 */
    int channels;                            /* image channels of the test set */
    float mean_c[4], std_c[4];               /* per channel */
    ct_class_report rep;
    double seconds;
} ct_eval_result;

/* Evaluates a model on the test set of cfg->data.dir (fetched when missing) with
 * cfg->evaluation.batch_size, and writes the run folder files. */
int ct_evaluate_model(const ct_config *cfg, const ct_eval_opts *o, ct_eval_result *r);

/* Frees what a result owns (the report's arrays); the struct can be reused. */
void ct_eval_result_free(ct_eval_result *r);

/* Prints the human report: model, test accuracy and loss, the confusion matrix and the
 * classification report as aligned tables, and the files written. */
void ct_eval_print(FILE *f, const ct_eval_result *r);

/* The result as one JSON object (the content of evaluation.json and of `evaluate --json`):
 * test_accuracy, test_loss, test_samples, precision_macro, recall_macro, f1_macro,
 * precision_weighted, recall_weighted, f1_weighted, confusion_matrix (rows), class_names,
 * per_class ([{label, class_name, precision, recall, f1, support}]), evaluated_model_path, model_name, model_md5,
 * run_dir, files, device, data_dir, evaluated_at, cltrain_version. malloc'd. */
int ct_eval_to_json(const ct_eval_result *r, char **out);

/* The normalisation of a model: data.mean / data.std from the file's config metadata (a number
 * or per-channel lists), else cfg's, for `channels` channels (a list of another length is an
 * error naming where it came from). */
int ct_model_normalisation(const ct_st_file *f, const char *path, const ct_config *cfg, int channels, float *mean,
                           float *std);
/* The class names of a model of `classes` classes: its `class_names` metadata (JSON list), else
 * data.class_names, else the data set's (d may be NULL), else "0".."K-1". *names is malloc'd
 * (ct_class_names_free(*names, classes)). */
int ct_model_class_names(const ct_st_file *f, const char *path, const ct_config *cfg, const ct_dataset *d,
                         int classes, char ***names);

/* Reads <run_dir>/evaluation.json of a model when it exists and was made from the same file
 * (model_md5 matches): returns 1 and the test accuracy, else 0. */
int ct_eval_cached_accuracy(const ct_config *cfg, const char *model_name, const char *model_md5, double *acc);

#endif
