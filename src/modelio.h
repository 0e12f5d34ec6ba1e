/* modelio.h: DigitCNN <-> safetensors with PyTorch's state_dict names and shapes, so files
 * load with model.load_state_dict(strict=True) and PyTorch-trained files load here. */
#ifndef CLTRAIN_MODELIO_H
#define CLTRAIN_MODELIO_H
#include "model.h"
#include "safetensors.h"

/* Architecture sizes read from the tensor shapes (conv1.weight [c1,1,5,5], ...). */
int ct_modelio_dims(const ct_st_file *f, const char *path, ct_cnn_dims *d);
/* Copies every state_dict tensor from the file into the model (names, dtypes and shapes checked). */
int ct_modelio_load(ct_model *m, const ct_st_file *f, const char *path);
/* Writes the model's state_dict with metadata pairs (keys[i], values[i]), atomically. */
int ct_modelio_save(ct_model *m, const char *path, const char *const *keys, const char *const *values, int n_meta);
/* Host snapshot of all parameters and running statistics (pool images), for best-epoch weights. */
int ct_model_snapshot(ct_model *m, float **params, float **state);
int ct_model_restore(ct_model *m, const float *params, const float *state);

#endif
