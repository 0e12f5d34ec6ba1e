/* data/dataset.h: a labelled image data set in memory: n images of C x H x W u8 samples,
 * their labels, the class count and names, and where the data came from (MD5s for the
 * model file's metadata).
 *
 * Layouts of a data folder (`--data DIR`, `data.dir`), told apart by ct_dataset_detect:
 *  - IDX: {train,t10k}-{images-idx3,labels-idx1}-ubyte (also `.idx3-ubyte` names, each
 *    optionally .gz), u8 images N x H x W of any size, u8 labels (MNIST, Fashion-MNIST, ...).
 *    C = 1; classes = 10, or the largest training label + 1 when that is more; names "0".."K-1".
 *  - image folders as torchvision's ImageFolder: DIR/train/<class>/<file>.png and
 *    DIR/test/<class>/<file>.png (PNG or PGM); classes are the sub-folders of train/ in
 *    strcmp order (test/ must have the same ones); files within a class in strcmp order.
 *    Every picture has the same size; C = 3 when any training picture stores color, else 1
 *    (gray pictures in a color set give R = G = B). Empty classes, mixed sizes, unreadable
 *    files and other files than pictures are refused with the file named.
 *
 * Images are stored CHW per image (all of channel 0, then channel 1, ...), image after image. */
#ifndef CLTRAIN_DATA_DATASET_H
#define CLTRAIN_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#define CT_DATA_MAX_CLASSES 256  /* labels are u8 */
#define CT_DATA_MAX_CHANNELS 4

typedef enum { CT_DATA_NONE = 0, CT_DATA_IDX, CT_DATA_FOLDER } ct_data_layout;

typedef struct {
    char key[32];  /* "train-images", "t10k-labels", "train" (a folder set), ... */
    char md5[33];  /* MD5 hex of the raw (decompressed) file; of the file list + file MD5s for folders */
} ct_data_md5;

typedef struct {
    ct_data_layout layout;
    size_t n;             /* images */
    int c, h, w;          /* each image is c x h x w */
    uint8_t *images;      /* n * c * h * w (owned) */
    uint8_t *labels;      /* n labels, each < classes (owned) */
    int classes;
    char **class_names;   /* classes names (owned) */
    char *source;         /* what was read: the images file, or the train/ or test/ folder */
    ct_data_md5 md5[2];   /* IDX: images and labels; folder: one entry */
    int n_md5;
} ct_dataset;

/* Which layout DIR has: FOLDER when DIR/train is a folder, IDX otherwise (missing files are
 * reported by the loader). */
ct_data_layout ct_dataset_detect(const char *dir);

/* Loads the training (train != 0) or test split of DIR in its layout. */
int ct_dataset_load(const char *dir, int train, ct_dataset *out);
int ct_dataset_load_idx(const char *dir, int train, ct_dataset *out);
int ct_dataset_load_folder(const char *dir, int train, ct_dataset *out);
void ct_dataset_free(ct_dataset *d);

/* Bytes of one image (c * h * w). */
size_t ct_dataset_image_size(const ct_dataset *d);

/* The test split must match the training split: the same image shape and classes (names too
 * for folder sets). Messages name both sources. */
int ct_dataset_check_pair(const ct_dataset *train, const ct_dataset *test);

/* Replaces the class names with `names` (n of them; n must equal d->classes, else an error
 * naming data.class_names and both counts). */
int ct_dataset_set_class_names(ct_dataset *d, const char *const *names, int n);

/* Checks a network's input and class count against the data set; the message says what the
 * data has, what the network expects and what to change. `what` names the network (e.g.
 * "configs/net.yaml: network"). */
int ct_dataset_check_network(const ct_dataset *d, int c, int h, int w, int classes, const char *what);

/* {"train-images":"md5",...}: the MD5s of train and (when test is not NULL) test as one JSON
 * object (malloc'd). */
int ct_dataset_md5_json(const ct_dataset *train, const ct_dataset *test, char **out);
/* ["name", ...]: the class names as a JSON list (malloc'd). */
int ct_dataset_class_names_json(const ct_dataset *d, char **out);
/* Parses a JSON list of class names (a model file's `class_names` metadata); `origin` names
 * the file in messages. *names is malloc'd (free with ct_class_names_free). */
int ct_class_names_from_json(const char *text, const char *origin, char ***names, int *n);
void ct_class_names_free(char **names, int n);

#endif
