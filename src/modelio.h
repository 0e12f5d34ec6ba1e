/* modelio.h: a graph model <-> safetensors with PyTorch's state_dict names and shapes, so files
 * load with model.load_state_dict(strict=True) and PyTorch-trained files load here. Every file
 * written stores the resolved network as JSON under the `network` metadata key. */
#ifndef CLTRAIN_MODELIO_H
#define CLTRAIN_MODELIO_H
#include "config.h"
#include "model.h"
#include "safetensors.h"

/* The network a model file holds: its `network` metadata; else `fallback` (the --config
 * network, may be NULL); else DigitCNN with the sizes read from the tensor shapes
 * (conv1.weight [c1,1,5,5], ...). */
int ct_modelio_netdef(const ct_st_file *f, const char *path, const ct_netdef *fallback, ct_netdef *out);
/* The network a config describes (its `network:` section, else DigitCNN from `model:`). */
int ct_modelio_config_netdef(const ct_config *cfg, ct_netdef *out);
/* The config's explicit `network:` section into *out (*found = 1), or *found = 0 when it has none. */
int ct_modelio_config_network(const ct_config *cfg, ct_netdef *out, int *found);
/* ct_modelio_netdef with the config's explicit network (if any) as the fallback. */
int ct_modelio_file_netdef(const ct_st_file *f, const char *path, const ct_config *cfg, ct_netdef *out);
/* 1 when the file carries `network` metadata. */
int ct_modelio_has_network(const ct_st_file *f);
/* Copies every state_dict tensor from the file into the model (names, dtypes and shapes
 * checked; strict: exactly the model's names plus <bn>.num_batches_tracked as int64). */
int ct_modelio_load(ct_model *m, const ct_st_file *f, const char *path);
/* Writes the model's state_dict with metadata pairs (keys[i], values[i]) plus `network`,
 * atomically; refuses non-finite weights (naming the tensor) and writes nothing then. */
int ct_modelio_save(ct_model *m, const char *path, const char *const *keys, const char *const *values, int n_meta);
/* Host snapshot of all parameters and running statistics (pool images), for best-epoch weights. */
int ct_model_snapshot(ct_model *m, float **params, float **state);
int ct_model_restore(ct_model *m, const float *params, const float *state);

#endif
