/* nn/netparse.h: the `network:` section of a YAML config (README "Networks"): read from the
 * libyaml event stream of src/config.c with every line/column kept, turned into a resolved
 * ct_netdef, and written back as YAML that reads to the same network.
 *
 * Errors (CT_ERR_USAGE) read
 *   FILE:LINE:COL: network.layers[I] ('name', type): what is wrong; what to do
 * (or FILE:LINE:COL: network.input: ... / network: ...), with did-you-mean hints for unknown
 * types and keys. */
#ifndef CLTRAIN_NN_NETPARSE_H
#define CLTRAIN_NN_NETPARSE_H

#include <yaml.h>

#include "config.h"
#include "nn/netdef.h"

/* Reads the value of the top-level `network:` key: `first` is the value's first event (read by
 * the caller, still owned by it); every following event up to the end of that value is read
 * from `p` and freed here. On success *out is a malloc'd, resolved network (classes = the last
 * layer's width) and (*input_line, *input_col) the 1-based position of `network.input`. */
int ct_netparse_yaml(yaml_parser_t *p, const yaml_event_t *first, const char *path, ct_netdef **out,
                     int *input_line, int *input_col);

/* The section as YAML ("network:\n  input: ...\n  layers:\n    - {...}\n"), flow-style layers
 * with every key resolved; references by name. *out is malloc'd. */
int ct_netparse_to_yaml(const ct_netdef *n, char **out);

/* The config's network (a copy) or, without a `network:` section, the seed's DigitCNN from the
 * `model:` keys. Free *out with ct_netdef_free. */
int ct_config_netdef(const ct_config *c, ct_netdef *out);

/* Compares the network with the data set: input (channels, height, width) and class count.
 * Messages name the config file and the line of `network.input` or of the last layer. The
 * DigitCNN of the `model:` keys needs 1 x 28 x 28 and 10 classes. */
int ct_config_check_data(const ct_config *c, int channels, int height, int width, int classes);

#endif
