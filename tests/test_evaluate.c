/* test_evaluate.c: the evaluation arithmetic against scikit-learn's conventions
 * (classification_report, zero_division=0), worked by hand on a small confusion matrix with
 * a class that is never predicted and a class that is predicted but never present; the report
 * layout; the deployment accuracy tag; the PNG writers. No device needed. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "evaluate.h"
#include "plot.h"
#include "testutil.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static void test_metrics(void)
{
    /* true 0: 5 right, 1 as "1"; true 1: 2 as "0", 3 right, 1 as "3"; true 2: 1 as "0", 1 as "1",
     * 2 as "3" (class 2 never predicted; class 3 predicted, never true; 4..9 absent) */
    long cm[10][10] = {{0}};
    cm[0][0] = 5, cm[0][1] = 1;
    cm[1][0] = 2, cm[1][1] = 3, cm[1][3] = 1;
    cm[2][0] = 1, cm[2][1] = 1, cm[2][3] = 2;
    ct_class_report r;
    TU_CHECK(ct_class_report_compute(&cm[0][0], 10, NULL, &r) == CT_OK, "compute: %s", ct_last_error());
    TU_CHECK(r.total == 16, "total %ld", r.total);
    TU_CHECK(NEAR(r.accuracy, 0.5), "accuracy %g", r.accuracy);
    TU_CHECK(r.support[0] == 6 && r.support[1] == 6 && r.support[2] == 4 && r.support[3] == 0, "supports");
    TU_CHECK(r.present[0] && r.present[1] && r.present[2] && r.present[3] && !r.present[4] && !r.present[9],
             "labels in the report: those in y_true or y_pred");
    TU_CHECK(NEAR(r.precision[0], 0.625) && NEAR(r.precision[1], 0.6), "precision 0/1: %g %g", r.precision[0],
             r.precision[1]);
    TU_CHECK(r.precision[2] == 0, "never predicted -> precision 0 (zero_division=0): %g", r.precision[2]);
    TU_CHECK(r.recall[3] == 0 && r.precision[3] == 0 && r.f1[3] == 0, "never present -> recall 0");
    TU_CHECK(NEAR(r.recall[0], 5.0 / 6) && NEAR(r.recall[1], 0.5) && r.recall[2] == 0, "recalls");
    TU_CHECK(NEAR(r.f1[0], 10.0 / 14) && NEAR(r.f1[1], 6.0 / 11) && r.f1[2] == 0, "f1 = 2tp/(2tp+fp+fn): %g %g",
             r.f1[0], r.f1[1]);
    TU_CHECK(NEAR(r.precision_macro, (0.625 + 0.6) / 4), "macro precision over 4 labels: %g", r.precision_macro);
    TU_CHECK(NEAR(r.recall_macro, (5.0 / 6 + 0.5) / 4), "macro recall: %g", r.recall_macro);
    TU_CHECK(NEAR(r.f1_macro, (10.0 / 14 + 6.0 / 11) / 4), "macro f1: %g", r.f1_macro);
    TU_CHECK(NEAR(r.precision_weighted, (0.625 * 6 + 0.6 * 6) / 16), "weighted precision: %g", r.precision_weighted);
    TU_CHECK(NEAR(r.recall_weighted, 0.5), "weighted recall = accuracy: %g", r.recall_weighted);
    TU_CHECK(NEAR(r.f1_weighted, (10.0 / 14 * 6 + 6.0 / 11 * 6) / 16), "weighted f1: %g", r.f1_weighted);

    char *t = ct_class_report_text(&r, 2);
    TU_CHECK(t != NULL, "report text");
    if (t) {
        printf("%s", t);
        TU_CHECK(strstr(t, "              precision    recall  f1-score   support\n\n") == t, "header as sklearn's");
        TU_CHECK(strstr(t, "           0       0.62      0.83      0.71         6\n") != NULL, "row 0 as sklearn's");
        TU_CHECK(strstr(t, "           3       0.00      0.00      0.00         0\n") != NULL, "predicted-only row");
        TU_CHECK(strstr(t, "           4 ") == NULL, "absent labels are left out");
        TU_CHECK(strstr(t, "\n    accuracy                           0.50        16\n") != NULL, "accuracy line");
        TU_CHECK(strstr(t, "   macro avg       0.31      0.33      0.31        16\n") != NULL, "macro line");
        TU_CHECK(strstr(t, "weighted avg       0.46      0.50      0.47        16\n") != NULL, "weighted line");
    }
    free(t);
    t = ct_confusion_text(&r);
    TU_CHECK(t && strstr(t, "total") && strstr(t, "     2      1    1    0    2"), "confusion table rows");
    if (t) printf("%s", t);
    free(t);

    /* a perfect classifier, and an empty matrix (no division by zero) */
    long p[10][10] = {{0}};
    for (int k = 0; k < 10; k++) p[k][k] = 10 + k;
    ct_class_report_free(&r);
    ct_class_report_compute(&p[0][0], 10, NULL, &r);
    TU_CHECK(r.accuracy == 1 && r.f1_macro == 1 && r.precision_weighted == 1, "perfect: all 1");
    long z[10][10] = {{0}};
    ct_class_report_free(&r);
    ct_class_report_compute(&z[0][0], 10, NULL, &r);
    TU_CHECK(r.total == 0 && r.accuracy == 0 && r.f1_macro == 0 && isfinite(r.f1_weighted), "empty: zeros");
    ct_class_report_free(&r);
}

/* Any class count, rows and columns labelled with the class names. */
static void test_named(void)
{
    const long cm[9] = {4, 1, 0, 0, 3, 1, 0, 0, 2};
    const char *names[] = {"circle", "cross", "a_rather_long_name"};
    ct_class_report r;
    TU_CHECK(ct_class_report_compute(cm, 3, names, &r) == CT_OK && r.classes == 3 && r.total == 11, "3 classes");
    TU_CHECK(NEAR(r.accuracy, 9.0 / 11) && NEAR(r.recall[0], 0.8) && NEAR(r.precision[1], 0.75), "metrics");
    char *t = ct_class_report_text(&r, 2);
    if (t) printf("%s", t);
    /* scikit-learn widens the first column to the longest name */
    TU_CHECK(t && strstr(t, "\n            circle       1.00      0.80      0.89         5\n") &&
                 strstr(t, "\na_rather_long_name       0.67      1.00      0.80         2\n") &&
                 strstr(t, "\n      weighted avg "),
             "report rows named");
    free(t);
    t = ct_confusion_text(&r);
    if (t) printf("%s", t);
    TU_CHECK(t && strstr(t, "\n            circle            4          1          0            5\n") &&
                 strstr(t, " a_rather_l") && strstr(t, "actual"),
             "confusion rows and (cut) column headers named");
    free(t);
    ct_eval_result e;
    memset(&e, 0, sizeof e);
    e.rep = r;
    char *j = NULL;
    TU_CHECK(ct_eval_to_json(&e, &j) == CT_OK && j && strstr(j, "\"class_names\":[\"circle\",\"cross\",") &&
                 strstr(j, "\"label\":1,\"class_name\":\"cross\"") && strstr(j, "\"confusion_matrix\":[[4,1,0],"),
             "JSON names: %.300s", j ? j : "");
    free(j);
    ct_eval_result_free(&e);
    TU_CHECK(ct_class_report_compute(cm, 0, NULL, &r) == CT_ERR_USAGE, "0 classes refused");
}

static void test_acc_tag(void)
{
    const double in[] = {0.9912, 0.9, 1.0, 0.7634, 0.995, 0.0};
    const char *want[] = {"0p99", "0p90", "1p00", "0p76", "0p99", "0p00"}; /* Python's f"{x:.2f}" */
    for (int i = 0; i < 6; i++) {
        char b[32];
        ct_deploy_acc_tag(in[i], b, sizeof b);
        TU_CHECK(!strcmp(b, want[i]), "acc tag of %g: %s, want %s", in[i], b, want[i]);
    }
}

static int png_ok(const char *path, unsigned *w, unsigned *h)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[24];
    size_t n = fread(b, 1, 24, f);
    fclose(f);
    if (n != 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

static void test_plots(void)
{
    char dir[] = "/tmp/cltrain_test_evaluate_XXXXXX";
    if (!mkdtemp(dir)) {
        TU_CHECK(0, "mkdtemp");
        return;
    }
    char png[256], csv[256], png2[256];
    snprintf(png, sizeof png, "%s/cm.png", dir);
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    snprintf(png2, sizeof png2, "%s/curves.png", dir);
    long cm[10][10] = {{0}};
    for (int k = 0; k < 10; k++) cm[k][k] = 950 + k, cm[k][(k + 1) % 10] = k;
    TU_CHECK(ct_plot_confusion_png(&cm[0][0], 10, NULL, "Confusion Matrix - Test Set", "test", png) == CT_OK,
             "heatmap: %s", ct_last_error());
    unsigned w = 0, h = 0;
    TU_CHECK(png_ok(png, &w, &h) && w == 820 && h == 730, "heatmap is a PNG (%ux%u)", w, h);
    /* class names as tick labels; many classes with long names get a larger picture */
    const char *names3[] = {"T-shirt/top", "Trouser", "Pullover"};
    const long cm3[9] = {5, 1, 0, 0, 7, 0, 2, 0, 4};
    TU_CHECK(ct_plot_confusion_png(cm3, 3, names3, "Confusion Matrix - Test Set", "named", png) == CT_OK,
             "named heatmap: %s", ct_last_error());
    TU_CHECK(png_ok(png, &w, &h) && w >= 400 && h >= 400, "named heatmap is a PNG (%ux%u)", w, h);
    long cm40[40 * 40];
    const char *names40[40];
    for (int k = 0; k < 40 * 40; k++) cm40[k] = k % 41 == 0 ? 90 : k % 7;
    for (int k = 0; k < 40; k++) names40[k] = k % 2 ? "a fairly long class name" : "short";
    TU_CHECK(ct_plot_confusion_png(cm40, 40, names40, "Confusion Matrix", "40 classes", png) == CT_OK,
             "40-class heatmap: %s", ct_last_error());
    TU_CHECK(png_ok(png, &w, &h) && w > 820 && h > 730, "40-class heatmap is larger (%ux%u)", w, h);
    FILE *f = fopen(csv, "w");
    fprintf(f, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,images_per_second,epoch_seconds\n"
               "1,0.5,85.0,0.3,90.1,0.001,1000,2.0\n2,0.2,93.5,0.15,95.2,0.001,1000,2.0\n");
    fclose(f);
    TU_CHECK(ct_plot_training_curves_png(csv, "run", png2) == CT_OK, "curves: %s", ct_last_error());
    TU_CHECK(png_ok(png2, &w, &h), "curves are a PNG (%ux%u)", w, h);
    /* a bad metrics.csv is an input error naming the file and line */
    f = fopen(csv, "w");
    fprintf(f, "epoch,train_loss,train_accuracy,val_loss,val_accuracy\n1,0.5,x,0.3,90\n");
    fclose(f);
    int rc = ct_plot_training_curves_png(csv, "run", png2);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "metrics.csv:2"), "bad csv: %d %s", rc, ct_last_error());
    f = fopen(csv, "w");
    fprintf(f, "epoch,loss\n1,0.5\n");
    fclose(f);
    rc = ct_plot_training_curves_png(csv, "run", png2);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "no column"), "missing column: %s", ct_last_error());
    unlink(png);
    unlink(png2);
    unlink(csv);
    rmdir(dir);
}

int main(void)
{
    test_metrics();
    test_acc_tag();
    test_named();
    test_plots();
    return tu_finish();
}
