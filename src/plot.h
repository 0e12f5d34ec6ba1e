/* plot.h: the evaluation pictures, drawn with cairo and written as PNG (atomically):
 *  - a confusion-matrix heatmap as the seed's seaborn plot (sns.heatmap(cm, annot=True,
 *    fmt="d", cmap="Blues"), title "Confusion Matrix - Test Set", x "Predicted", y "Actual"),
 *    with a colour bar and the counts in each cell in a contrasting colour;
 *  - training curves from a run's metrics.csv: loss and accuracy per epoch, train and
 *    validation.
 * Text uses cairo's toy font API with "DejaVu Sans" (Debian fonts-dejavu-core; fontconfig
 * falls back to any sans font). What it does not do: general plotting. */
#ifndef CLTRAIN_PLOT_H
#define CLTRAIN_PLOT_H

/* cm is 10 x 10, rows = true label. subtitle may be NULL. */
/* cm: K x K counts, row-major (rows actual); names: K tick labels (NULL = the numbers). */
int ct_plot_confusion_png(const long *cm, int K, const char *const *names, const char *title, const char *subtitle,
                          const char *png_path);

/* Reads metrics.csv (columns by name: epoch, train_loss, val_loss, train_accuracy,
 * val_accuracy; others ignored) and draws both panels. A missing column or a bad number is
 * CT_ERR_INPUT naming the file and line. */
int ct_plot_training_curves_png(const char *csv_path, const char *title, const char *png_path);

#endif
