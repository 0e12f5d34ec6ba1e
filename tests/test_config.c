/* test_config.c: the training-config module: defaults == configs/default.yaml, the shipped
 * configs, YAML round trip, every error class with its FILE:LINE:COL and dotted key (and the
 * struct untouched after a failure), --set overrides, validation, JSON output. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *root; /* repository root: $CLTRAIN_SOURCE_DIR or ".." (cwd is tests/) */

static const char *repo_path(const char *rel)
{
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

static const char *fixture(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/config/%s", name);
    return repo_path(rel);
}

/* Writes text to a fresh temp file; returns its malloc'd path. */
static char *temp_yaml(const char *text, size_t len)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/cltrain_cfg_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    if (write(fd, text, len) != (ssize_t)len) {
        perror("write");
        exit(2);
    }
    close(fd);
    return path;
}

/* Field-by-field comparison (independent of the module's own table); reports each mismatch. */
static int cfg_equal(const ct_config *a, const ct_config *b, const char *what)
{
    int ok = 1;
#define CMP(fld, fmt, cast)                                                                            \
    if (a->fld != b->fld) {                                                                            \
        TU_CHECK(0, "%s: " #fld ": " fmt " != " fmt, what, (cast)a->fld, (cast)b->fld);                \
        ok = 0;                                                                                        \
    }
#define CI(fld) CMP(fld, "%lld", long long)
#define CD(fld) CMP(fld, "%.17g", double)
#define CS(fld)                                                                                        \
    if (strcmp(a->fld, b->fld) != 0) {                                                                 \
        TU_CHECK(0, "%s: " #fld ": '%s' != '%s'", what, a->fld, b->fld);                               \
        ok = 0;                                                                                        \
    }
    CI(model.conv1_channels) CI(model.conv2_channels) CI(model.conv3_channels)
    CD(model.dropout1_rate) CD(model.dropout2_rate) CI(model.hidden_size) CI(model.use_batch_norm)
    CI(training.batch_size) CD(training.learning_rate) CI(training.epochs) CS(training.optimizer_type)
    CD(training.momentum) CD(training.weight_decay) CI(training.seed) CD(training.validation_split)
    CI(training.log_interval)
    CI(scheduler.use_lr_scheduler) CI(scheduler.lr_step_size) CD(scheduler.lr_gamma)
    CI(early_stopping.use_early_stopping) CI(early_stopping.patience) CD(early_stopping.min_delta)
    CI(early_stopping.restore_best)
    CI(augmentation.use_data_augmentation) CD(augmentation.rotation_degrees)
    CD(augmentation.translation_pixels) CD(augmentation.scale_range_min) CD(augmentation.scale_range_max)
    CI(output.save_model) CS(output.model_save_dir) CS(output.model_name_prefix) CS(output.runs_dir)
    CS(data.dir) CD(data.mean) CD(data.std) CI(data.mean_n) CI(data.std_n) CI(data.class_names_n)
    CI(augmentation.horizontal_flip)
    for (int k = 0; k < a->data.mean_n && k < CT_CONFIG_MAX_CHANNELS; k++) CD(data.mean_list[k])
    for (int k = 0; k < a->data.std_n && k < CT_CONFIG_MAX_CHANNELS; k++) CD(data.std_list[k])
    for (int k = 0; k < a->data.class_names_n && k < CT_CONFIG_MAX_CLASSES; k++) CS(data.class_names[k])
    CI(checkpoint.every_epochs)
    CI(evaluation.batch_size)
    CD(deployment.accuracy_threshold) CS(deployment.custom_model_name) CI(deployment.force_deploy)
    CI(prediction.batch_size) CD(prediction.confidence_threshold) CI(prediction.return_probabilities)
    CS(device)
#undef CMP
#undef CI
#undef CD
#undef CS
    return ok;
}

/* Every field set to a value no config file would contain; loading default.yaml over it must
 * overwrite every single one, which proves the file names every key. */
static void poison(ct_config *c)
{
    ct_config_defaults(c);
    c->model.conv1_channels = c->model.conv2_channels = c->model.conv3_channels = 4001;
    c->model.dropout1_rate = c->model.dropout2_rate = 0.777;
    c->model.hidden_size = 4002;
    c->model.use_batch_norm = !c->model.use_batch_norm;
    c->training.batch_size = 4003;
    c->training.learning_rate = 0.777;
    c->training.epochs = 4004;
    strcpy(c->training.optimizer_type, "sgd");
    c->training.momentum = c->training.weight_decay = c->training.validation_split = 0.777;
    c->training.seed = 4005;
    c->training.log_interval = 4006;
    c->scheduler.use_lr_scheduler = !c->scheduler.use_lr_scheduler;
    c->scheduler.lr_step_size = 4007;
    c->scheduler.lr_gamma = 0.777;
    c->early_stopping.use_early_stopping = !c->early_stopping.use_early_stopping;
    c->early_stopping.patience = 4008;
    c->early_stopping.min_delta = 0.777;
    c->early_stopping.restore_best = !c->early_stopping.restore_best;
    c->augmentation.use_data_augmentation = !c->augmentation.use_data_augmentation;
    c->augmentation.rotation_degrees = c->augmentation.translation_pixels = 0.377;
    c->augmentation.scale_range_min = c->augmentation.scale_range_max = 0.777;
    c->output.save_model = !c->output.save_model;
    strcpy(c->output.model_save_dir, "POISON");
    strcpy(c->output.model_name_prefix, "POISON");
    strcpy(c->output.runs_dir, "POISON");
    strcpy(c->data.dir, "POISON");
    c->data.mean = c->data.std = 0.777;
    c->data.mean_n = c->data.std_n = 3;
    c->data.class_names_n = 2;
    strcpy(c->data.class_names[0], "POISON");
    c->augmentation.horizontal_flip = !c->augmentation.horizontal_flip;
    c->checkpoint.every_epochs = 4009;
    c->evaluation.batch_size = 4010;
    c->deployment.accuracy_threshold = 0.777;
    strcpy(c->deployment.custom_model_name, "POISON");
    c->deployment.force_deploy = !c->deployment.force_deploy;
    c->prediction.batch_size = 4011;
    c->prediction.confidence_threshold = 0.777;
    c->prediction.return_probabilities = !c->prediction.return_probabilities;
    strcpy(c->device, "POISON");
}

/* A config with many non-default values, used as the "before" state of failing loads. */
static void nondefault(ct_config *c)
{
    ct_config_defaults(c);
    c->training.epochs = 11;
    c->model.hidden_size = 64;
    strcpy(c->output.model_name_prefix, "before");
    c->augmentation.rotation_degrees = 7.5;
}

static void test_defaults_match_file(void)
{
    ct_config def, c;
    ct_config_defaults(&def);
    TU_CHECK(ct_config_validate(&def) == CT_OK, "defaults validate: %s", ct_last_error());
    poison(&c);
    int rc = ct_config_load(&c, repo_path("configs/default.yaml"));
    TU_CHECK(rc == CT_OK, "load default.yaml: %s", ct_last_error());
    TU_CHECK(cfg_equal(&c, &def, "default.yaml over poison vs built-in defaults"), "defaults == default.yaml");

    /* same through the writer */
    char *y1 = NULL, *y2 = NULL;
    TU_CHECK(ct_config_to_yaml(&def, &y1) == CT_OK && ct_config_to_yaml(&c, &y2) == CT_OK, "to_yaml");
    TU_CHECK(y1 && y2 && strcmp(y1, y2) == 0, "to_yaml(defaults) == to_yaml(default.yaml)");
    free(y1);
    free(y2);
}

static void test_shipped_configs(void)
{
    const char *names[] = {"configs/default.yaml", "configs/dev.yaml", "configs/prod.yaml", "configs/sgd.yaml"};
    ct_config c[4], def;
    ct_config_defaults(&def);
    for (int i = 0; i < 4; i++) {
        ct_config_defaults(&c[i]);
        int rc = ct_config_load(&c[i], repo_path(names[i]));
        TU_CHECK(rc == CT_OK, "%s loads: %s", names[i], ct_last_error());
        TU_CHECK(ct_config_validate(&c[i]) == CT_OK, "%s validates: %s", names[i], ct_last_error());
    }
    const ct_config *dev = &c[1], *prod = &c[2], *sgd = &c[3];
    TU_CHECK(dev->training.epochs == 2, "dev epochs %d", dev->training.epochs);
    TU_CHECK(!dev->early_stopping.use_early_stopping, "dev: no early stopping");
    TU_CHECK(!dev->augmentation.use_data_augmentation, "dev: no augmentation");
    TU_CHECK(dev->deployment.accuracy_threshold == 0.5, "dev threshold %g", dev->deployment.accuracy_threshold);
    TU_CHECK(!strcmp(dev->output.model_name_prefix, "mnist_cnn_dev"), "dev prefix %s", dev->output.model_name_prefix);
    TU_CHECK(prod->training.epochs == 30, "prod epochs %d", prod->training.epochs);
    TU_CHECK(prod->augmentation.use_data_augmentation, "prod: augmentation on");
    TU_CHECK(prod->deployment.accuracy_threshold == 0.99, "prod threshold %g", prod->deployment.accuracy_threshold);

    ct_config want = def;
    strcpy(want.training.optimizer_type, "sgd");
    want.training.learning_rate = 0.01;
    want.training.momentum = 0.9;
    want.training.weight_decay = 5e-4;
    TU_CHECK(cfg_equal(sgd, &want, "sgd.yaml"), "sgd.yaml = defaults + sgd settings");
}

static void roundtrip(const ct_config *src, const char *what)
{
    char *y = NULL;
    TU_CHECK(ct_config_to_yaml(src, &y) == CT_OK, "%s: to_yaml: %s", what, ct_last_error());
    if (!y) return;
    char *path = temp_yaml(y, strlen(y));
    ct_config back;
    poison(&back);
    int rc = ct_config_load(&back, path);
    TU_CHECK(rc == CT_OK, "%s: reload: %s\n%s", what, ct_last_error(), y);
    TU_CHECK(cfg_equal(&back, src, what), "%s: round trip identical", what);
    unlink(path);
    free(path);
    free(y);
}

static void test_roundtrip(void)
{
    ct_config c;
    ct_config_defaults(&c);
    roundtrip(&c, "defaults");

    c.model.conv1_channels = 4096;
    c.model.dropout1_rate = 1.0 / 3.0;
    c.model.dropout2_rate = 0.0;
    c.model.hidden_size = 2;
    c.model.use_batch_norm = false;
    c.training.learning_rate = 1e-300;
    c.training.weight_decay = 0.1 + 0.2;
    c.training.seed = INT64_MAX;
    strcpy(c.training.optimizer_type, "sgd");
    c.training.validation_split = 0.999999999999;
    c.augmentation.rotation_degrees = 180;
    c.augmentation.scale_range_max = 4;
    c.data.mean = -123456789.125;
    c.data.std = 5e-324; /* smallest subnormal */
    c.deployment.force_deploy = true;
    c.checkpoint.every_epochs = 0;
    strcpy(c.output.model_save_dir, "dir with \"quotes\", \\backslash\\ # not a comment: x");
    strcpy(c.output.runs_dir, "tab\tnewline\nend \xc3\xa9t\xc3\xa9 ~");
    strcpy(c.output.model_name_prefix, "null");
    strcpy(c.deployment.custom_model_name, "yes");
    strcpy(c.device, "  leading and trailing spaces  ");
    strcpy(c.data.dir, "123");
    TU_CHECK(ct_config_validate(&c) == CT_OK, "round-trip config validates: %s", ct_last_error());
    roundtrip(&c, "non-default values");
}

typedef struct {
    const char *file;
    int line, col;
    const char *key;  /* dotted key or section printed after the position; NULL = none */
    const char *text; /* must appear in the message */
} err_case;

static void expect_load_error(const char *path, const char *shown_path, int line, int col, const char *key,
                              const char *text)
{
    ct_config c, before;
    nondefault(&c);
    memcpy(&before, &c, sizeof c);
    ct_clear_error();
    int rc = ct_config_load(&c, path);
    const char *msg = ct_last_error();
    char prefix[1200];
    if (key)
        snprintf(prefix, sizeof prefix, "%s:%d:%d: %s: ", shown_path, line, col, key);
    else
        snprintf(prefix, sizeof prefix, "%s:%d:%d: ", shown_path, line, col);
    TU_CHECK(rc == CT_ERR_USAGE, "%s: rc %d (want %d)", path, rc, CT_ERR_USAGE);
    TU_CHECK(strncmp(msg, prefix, strlen(prefix)) == 0, "%s: message starts with '%s'; got '%s'", path, prefix, msg);
    TU_CHECK(strstr(msg, text) != NULL, "%s: message has '%s'; got '%s'", path, text, msg);
    TU_CHECK(memcmp(&before, &c, sizeof c) == 0, "%s: struct unchanged after a failed load", path);
}

static void test_fixture_errors(void)
{
    static const err_case cases[] = {
        /* YAML syntax */
        {"syntax_indent.yaml", 3, 2, NULL, "YAML syntax error: did not find expected key (while parsing a block mapping at line 1, column 1)"},
        {"syntax_unterminated.yaml", 4, 1, NULL, "YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 3, column 19)"},
        {"bad_utf8.yaml", 3, 1, NULL, "invalid leading UTF-8 octet"},
        /* unknown names */
        {"unknown_section.yaml", 3, 1, "trainig", "unknown section; did you mean 'training'?"},
        {"unknown_key.yaml", 3, 3, "training.lerning_rate", "unknown key; did you mean 'learning_rate'?"},
        {"unknown_key_nohint.yaml", 2, 3, "training.frobnicate", "unknown key; keys of 'training': batch_size, learning_rate"},
        {"misplaced_key.yaml", 2, 3, "model.learning_rate", "'learning_rate' is a key of section 'training'"},
        /* wrong types */
        {"wrong_type_string.yaml", 2, 15, "training.batch_size", "expected an integer in [1, 65536], got 'big'"},
        {"wrong_type_mapping.yaml", 3, 5, "model.hidden_size", "got a mapping (nested structures are not allowed"},
        {"wrong_type_sequence.yaml", 2, 19, "model.conv1_channels", "got a sequence"},
        {"wrong_type_quoted.yaml", 2, 11, "training.epochs", "got the quoted string '5'"},
        {"wrong_type_bool.yaml", 2, 19, "model.use_batch_norm", "expected a boolean: true or false (also yes/no, on/off), got '1'"},
        {"section_scalar.yaml", 1, 11, "training", "expected a mapping of training keys"},
        {"top_sequence.yaml", 1, 1, NULL, "the top level must be a mapping of sections"},
        {"device_mapping.yaml", 2, 3, "device", "got a mapping"},
        /* ranges and values */
        {"range_dropout.yaml", 2, 18, "model.dropout1_rate", "1.0 is out of range; allowed: a number in [0, 1)"},
        {"range_batch_size.yaml", 2, 15, "training.batch_size", "65537 is out of range; allowed: an integer in [1, 65536]"},
        {"bad_optimizer.yaml", 2, 19, "training.optimizer_type", "'rmsprop' is not allowed; allowed: one of adam, sgd"},
        {"partial_then_error.yaml", 5, 16, "model.hidden_size", "255 is odd; allowed: an even integer in [2, 65536]"},
        {"overflow_int.yaml", 2, 9, "training.seed", "'99999999999999999999' overflows a 64-bit integer"},
        {"overflow_double.yaml", 2, 18, "training.learning_rate", "'1e999' overflows a double"},
        {"leading_zero.yaml", 2, 11, "training.epochs", "'010' has a leading zero"},
        /* structure */
        {"duplicate_key.yaml", 4, 3, "training.epochs", "duplicate key (first set at line 2)"},
        {"duplicate_section.yaml", 5, 1, "training", "duplicate section (first at line 1)"},
        {"anchor.yaml", 2, 15, "training.batch_size", "anchor '&bs': anchors and aliases are not supported"},
        {"anchor_section.yaml", 1, 11, "training", "aliases are not supported"},
        {"alias.yaml", 2, 11, "training.epochs", "alias '*e': aliases are not supported"},
        {"nested_deep.yaml", 2, 16, "model.hidden_size", "got a sequence (nested structures are not allowed"},
        {"nested_block.yaml", 3, 5, "model.hidden_size", "got a mapping (nested structures are not allowed"},
        {"multi_doc.yaml", 3, 1, NULL, "a second YAML document; a config file holds exactly one document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = fixture(cases[i].file);
        expect_load_error(p, p, cases[i].line, cases[i].col, cases[i].key, cases[i].text);
    }
}

/* Range and value rules, each as a one-key file: "section:\n  key: value\n". */
static void test_ranges(void)
{
    static const struct {
        const char *section, *key, *value;
        int ok;
        const char *text; /* for errors */
    } cases[] = {
        {"model", "conv1_channels", "0", 0, "0 is out of range; allowed: an integer in [1, 4096]"},
        {"model", "conv2_channels", "4097", 0, "4097 is out of range"},
        {"model", "conv3_channels", "4096", 1, NULL},
        {"model", "dropout2_rate", "-0.1", 0, "-0.1 is out of range; allowed: a number in [0, 1)"},
        {"model", "dropout2_rate", "0", 1, NULL},
        {"model", "hidden_size", "65538", 0, "out of range; allowed: an even integer in [2, 65536]"},
        {"model", "hidden_size", "0", 0, "out of range"},
        {"model", "hidden_size", "65536", 1, NULL},
        {"model", "use_batch_norm", "y", 0, "expected a boolean"},
        {"model", "use_batch_norm", "\"true\"", 0, "got the quoted string 'true'"},
        {"model", "use_batch_norm", "Off", 1, NULL},
        {"model", "use_batch_norm", "", 0, "got an empty value (null)"},
        {"training", "batch_size", "0", 0, "0 is out of range; allowed: an integer in [1, 65536]"},
        {"training", "batch_size", "65536", 1, NULL},
        {"training", "batch_size", "64.0", 0, "expected an integer in [1, 65536], got '64.0'"},
        {"training", "learning_rate", "0", 0, "0 is out of range; allowed: a finite number > 0"},
        {"training", "learning_rate", "-0.01", 0, "out of range"},
        {"training", "learning_rate", ".inf", 0, ".inf is not finite; allowed: a finite number > 0"},
        {"training", "learning_rate", ".nan", 0, "is not finite"},
        {"training", "learning_rate", "inf", 0, "expected a finite number > 0, got 'inf'"},
        {"training", "learning_rate", "0x10", 0, "got '0x10'"},
        {"training", "learning_rate", "1e-5", 1, NULL},
        {"training", "learning_rate", ".5", 1, NULL},
        {"training", "epochs", "0", 0, "0 is out of range; allowed: an integer >= 1"},
        {"training", "epochs", "3000000000", 0, "3000000000 is out of range"},
        {"training", "epochs", "!!int \"7\"", 1, NULL},
        {"training", "epochs", "!!str 7", 0, "got a value tagged 'tag:yaml.org,2002:str'"},
        {"training", "optimizer_type", "AdamW", 0, "'AdamW' is not allowed; allowed: one of adam, sgd"},
        {"training", "optimizer_type", "SGD", 1, NULL},
        {"training", "momentum", "1", 0, "1 is out of range; allowed: a number in [0, 1)"},
        {"training", "momentum", "0", 1, NULL},
        {"training", "weight_decay", "-1e-9", 0, "out of range; allowed: a finite number >= 0"},
        {"training", "seed", "-1", 0, "-1 is out of range; allowed: an integer >= 0"},
        {"training", "seed", "9223372036854775807", 1, NULL},
        {"training", "validation_split", "0", 0, "0 is out of range; allowed: a number in (0, 1)"},
        {"training", "validation_split", "1", 0, "out of range"},
        {"training", "validation_split", "0.5", 1, NULL},
        {"training", "log_interval", "0", 0, "out of range"},
        {"scheduler", "lr_step_size", "0", 0, "0 is out of range; allowed: an integer >= 1"},
        {"scheduler", "lr_gamma", "0", 0, "0 is out of range; allowed: a number in (0, 1]"},
        {"scheduler", "lr_gamma", "1.5", 0, "out of range"},
        {"scheduler", "lr_gamma", "1", 1, NULL},
        {"early_stopping", "patience", "0", 0, "out of range; allowed: an integer >= 1"},
        {"early_stopping", "min_delta", "-1", 0, "out of range; allowed: a finite number >= 0"},
        {"early_stopping", "restore_best", "NO", 1, NULL},
        {"augmentation", "rotation_degrees", "181", 0, "181 is out of range; allowed: a number in [0, 180]"},
        {"augmentation", "rotation_degrees", "180", 1, NULL},
        {"augmentation", "translation_pixels", "0.6", 0, "out of range; allowed: a number in [0, 0.5]"},
        {"augmentation", "translation_pixels", "0.5", 1, NULL},
        {"augmentation", "scale_range_min", "0", 0, "out of range; allowed: a number in (0, 4]"},
        {"augmentation", "scale_range_max", "4.5", 0, "out of range"},
        {"augmentation", "scale_range_max", "4", 1, NULL},
        {"output", "model_save_dir", "\"\"", 0, "must not be empty"},
        {"output", "model_save_dir", "", 0, "got an empty value (null)"},
        {"output", "model_name_prefix", "a/b", 0, "'a/b' cannot be part of a file name"},
        {"output", "model_name_prefix", "'..'", 0, "cannot be a file name"},
        {"output", "runs_dir", "[a, b]", 0, "got a sequence"},
        {"data", "mean", ".nan", 0, "is not finite; allowed: a finite number"},
        {"data", "mean", "-1.5", 1, NULL},
        {"data", "std", "0", 0, "0 is out of range; allowed: a finite number > 0"},
        {"checkpoint", "every_epochs", "-1", 0, "out of range; allowed: an integer >= 0 (0 = off)"},
        {"checkpoint", "every_epochs", "0", 1, NULL},
        {"evaluation", "batch_size", "65537", 0, "out of range"},
        {"deployment", "accuracy_threshold", "1.01", 0, "out of range; allowed: a number in [0, 1]"},
        {"deployment", "accuracy_threshold", "1", 1, NULL},
        {"deployment", "custom_model_name", "~", 1, NULL},
        {"deployment", "custom_model_name", "null", 1, NULL},
        {"deployment", "custom_model_name", "\"\"", 1, NULL},
        {"deployment", "custom_model_name", "'my model'", 1, NULL},
        {"deployment", "custom_model_name", "x\\y", 0, "cannot be part of a file name"},
        {"prediction", "confidence_threshold", "-0.1", 0, "out of range; allowed: a number in [0, 1]"},
        {"prediction", "confidence_threshold", "0", 1, NULL},
        {"prediction", "return_probabilities", "on", 1, NULL},
        {"prediction", "batch_size", "0", 0, "out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], key[128];
        int n = snprintf(text, sizeof text, "%s:\n  %s: %s\n", cases[i].section, cases[i].key, cases[i].value);
        snprintf(key, sizeof key, "%s.%s", cases[i].section, cases[i].key);
        char *path = temp_yaml(text, (size_t)n);
        if (cases[i].ok) {
            ct_config c;
            ct_config_defaults(&c);
            int rc = ct_config_load(&c, path);
            TU_CHECK(rc == CT_OK, "%s: %s should load: %s", key, cases[i].value, ct_last_error());
        } else {
            /* the value's column; an empty value sits right after the ':' */
            int col = 2 + (int)strlen(cases[i].key) + (cases[i].value[0] ? 2 : 1) + 1;
            expect_load_error(path, path, 2, col, key, cases[i].text);
        }
        unlink(path);
        free(path);
    }

    /* stored values of the accepted spellings */
    ct_config c;
    ct_config_defaults(&c);
    const char *s = "training:\n  optimizer_type: SGD\n  learning_rate: 1e-5\n  epochs: !!int \"7\"\n"
                    "model:\n  use_batch_norm: Off\ndeployment:\n  custom_model_name: ~\n";
    char *path = temp_yaml(s, strlen(s));
    strcpy(c.deployment.custom_model_name, "previous");
    TU_CHECK(ct_config_load(&c, path) == CT_OK, "spellings load: %s", ct_last_error());
    TU_CHECK(!strcmp(c.training.optimizer_type, "sgd"), "optimizer stored lowercase: %s", c.training.optimizer_type);
    TU_CHECK(c.training.learning_rate == 1e-5, "1e-5 read");
    TU_CHECK(c.training.epochs == 7, "!!int \"7\" read as 7");
    TU_CHECK(!c.model.use_batch_norm, "Off is false");
    TU_CHECK(c.deployment.custom_model_name[0] == 0, "~ clears custom_model_name");
    unlink(path);
    free(path);

    /* strings: 255 bytes fit, 256 do not */
    char big[600];
    memset(big, 'a', 255);
    big[255] = 0;
    char text[700];
    int n = snprintf(text, sizeof text, "output:\n  model_save_dir: %s\n", big);
    path = temp_yaml(text, (size_t)n);
    ct_config_defaults(&c);
    TU_CHECK(ct_config_load(&c, path) == CT_OK && strlen(c.output.model_save_dir) == 255, "255-byte string fits: %s",
             ct_last_error());
    unlink(path);
    free(path);
    memset(big, 'a', 300);
    big[300] = 0;
    n = snprintf(text, sizeof text, "output:\n  model_save_dir: %s\n", big);
    path = temp_yaml(text, (size_t)n);
    expect_load_error(path, path, 2, 19, "output.model_save_dir", "string is too long (300 bytes); allowed: a non-empty string of at most 255 bytes");
    unlink(path);
    free(path);
}

static void test_files(void)
{
    ct_config c, before;
    /* empty and comment-only files change nothing */
    const char *quiet[] = {"empty.yaml", "comments_only.yaml"};
    for (int i = 0; i < 2; i++) {
        nondefault(&c);
        memcpy(&before, &c, sizeof c);
        TU_CHECK(ct_config_load(&c, fixture(quiet[i])) == CT_OK, "%s loads: %s", quiet[i], ct_last_error());
        TU_CHECK(memcmp(&before, &c, sizeof c) == 0, "%s changes nothing", quiet[i]);
    }
    /* a partial file keeps every other value */
    nondefault(&c);
    memcpy(&before, &c, sizeof c);
    before.training.epochs = 5;
    TU_CHECK(ct_config_load(&c, fixture("partial.yaml")) == CT_OK, "partial loads: %s", ct_last_error());
    TU_CHECK(cfg_equal(&c, &before, "partial.yaml"), "partial file changes one key");
    /* "---" alone and an explicit null document */
    const char *docs[] = {"---\n", "--- ~\n...\n", "model: ~\n", "model: {}\n"};
    for (int i = 0; i < 4; i++) {
        char *path = temp_yaml(docs[i], strlen(docs[i]));
        nondefault(&c);
        memcpy(&before, &c, sizeof c);
        TU_CHECK(ct_config_load(&c, path) == CT_OK, "'%s' loads: %s", docs[i], ct_last_error());
        TU_CHECK(memcmp(&before, &c, sizeof c) == 0, "'%s' changes nothing", docs[i]);
        unlink(path);
        free(path);
    }
    /* missing file and a folder */
    nondefault(&c);
    memcpy(&before, &c, sizeof c);
    const char *missing = fixture("does_not_exist.yaml");
    int rc = ct_config_load(&c, missing);
    TU_CHECK(rc == CT_ERR_USAGE, "missing file rc %d", rc);
    TU_CHECK(strstr(ct_last_error(), missing) && strstr(ct_last_error(), "No such file"), "names the missing file: %s",
             ct_last_error());
    rc = ct_config_load(&c, repo_path("tests/fixtures/config"));
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "not a regular file"), "folder refused: %s", ct_last_error());
    TU_CHECK(memcmp(&before, &c, sizeof c) == 0, "unchanged after unreadable files");

    /* absurd nesting: refused at once, no stack or memory blow-up */
    size_t depth = 200000;
    char *deep = malloc(2 * depth + 64);
    size_t o = (size_t)sprintf(deep, "model:\n  hidden_size: ");
    memset(deep + o, '[', depth);
    o += depth;
    memset(deep + o, ']', depth);
    o += depth;
    deep[o++] = '\n';
    char *path = temp_yaml(deep, o);
    expect_load_error(path, path, 2, 16, "model.hidden_size", "got a sequence");
    unlink(path);
    free(path);
    memset(deep, '[', depth);
    o = depth;
    memset(deep + o, ']', depth);
    o += depth;
    path = temp_yaml(deep, o);
    expect_load_error(path, path, 1, 1, NULL, "the top level must be a mapping of sections");
    unlink(path);
    free(path);
    free(deep);
}

static void expect_set_error(const char *assignment, const char *text)
{
    ct_config c, before;
    nondefault(&c);
    memcpy(&before, &c, sizeof c);
    int rc = ct_config_set(&c, assignment);
    const char *msg = ct_last_error();
    char prefix[512];
    snprintf(prefix, sizeof prefix, "--set %s: ", assignment);
    for (char *p = prefix; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?'; /* control characters are shown as '?' */
    TU_CHECK(rc == CT_ERR_USAGE, "--set %s: rc %d", assignment, rc);
    TU_CHECK(strncmp(msg, prefix, strlen(prefix)) == 0, "message starts with '%s': %s", prefix, msg);
    TU_CHECK(strstr(msg, text) != NULL, "--set %s: message has '%s': %s", assignment, text, msg);
    TU_CHECK(memcmp(&before, &c, sizeof c) == 0, "--set %s: struct unchanged", assignment);
}

static void test_set(void)
{
    ct_config c, want;
    ct_config_defaults(&c);
    want = c;
    const char *good[] = {"training.learning_rate=0.01", "training.optimizer_type=SGD", "model.use_batch_norm=off",
                          "output.model_save_dir='/tmp/my models'", "device=gpu:1", "deployment.custom_model_name=best",
                          "training.seed=7", "augmentation.rotation_degrees=0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        TU_CHECK(ct_config_set(&c, good[i]) == CT_OK, "--set %s: %s", good[i], ct_last_error());
    want.training.learning_rate = 0.01;
    strcpy(want.training.optimizer_type, "sgd");
    want.model.use_batch_norm = false;
    strcpy(want.output.model_save_dir, "/tmp/my models");
    strcpy(want.device, "gpu:1");
    strcpy(want.deployment.custom_model_name, "best");
    want.training.seed = 7;
    want.augmentation.rotation_degrees = 0;
    TU_CHECK(cfg_equal(&c, &want, "after --set"), "--set values applied");
    TU_CHECK(ct_config_set(&c, "deployment.custom_model_name=") == CT_OK && c.deployment.custom_model_name[0] == 0,
             "empty value clears custom_model_name: %s", ct_last_error());
    TU_CHECK(ct_config_set(&c, "device=~") == CT_OK && c.device[0] == 0, "device=~ clears device");

    expect_set_error("training.lerning_rate=0.01", "unknown key 'training.lerning_rate'; did you mean 'learning_rate'?");
    expect_set_error("trainig.epochs=3", "unknown section 'trainig'; did you mean 'training'?");
    expect_set_error("devcie=gpu", "did you mean 'device'?");
    expect_set_error("training=3", "'training' is a section");
    expect_set_error("training.epochs", "missing '='; expected section.key=value");
    expect_set_error("training.epochs=abc", "expected an integer >= 1, got 'abc'");
    expect_set_error("training.epochs=0", "0 is out of range; allowed: an integer >= 1");
    expect_set_error("training.epochs=", "got an empty value (null)");
    expect_set_error("training.batch_size=\"64\"", "got the quoted string '64'");
    expect_set_error("model.dropout1_rate=1", "1 is out of range; allowed: a number in [0, 1)");
    expect_set_error("training.optimizer_type=adagrad", "allowed: one of adam, sgd");
    expect_set_error("training.epochs=[1]", "got a sequence");
    expect_set_error("training.epochs=a: 1", "got a mapping");
    expect_set_error("training.epochs=*x", "aliases are not supported");
    expect_set_error("training.epochs=&x 5", "aliases are not supported");
    expect_set_error("training.seed=18446744073709551616", "overflows a 64-bit integer");
    expect_set_error("training.epochs=\"5", "YAML syntax error");
    expect_set_error("training.epochs=5\n---\n6", "more than one YAML document");

    char deep[20100];
    int o = snprintf(deep, sizeof deep, "device=");
    memset(deep + o, '[', 20000);
    deep[o + 20000] = 0;
    ct_config d;
    ct_config_defaults(&d);
    TU_CHECK(ct_config_set(&d, deep) == CT_ERR_USAGE && strstr(ct_last_error(), "got a sequence"),
             "deep --set value refused: %.200s", ct_last_error());
}

/* Per-channel data.mean / data.std lists, data.class_names, augmentation.horizontal_flip. */
static void expect_text_error(const char *text, int line, int col, const char *key, const char *want)
{
    char *path = temp_yaml(text, strlen(text));
    expect_load_error(path, path, line, col, key, want);
    unlink(path);
    free(path);
}

static void test_lists(void)
{
    const char *text = "data:\n  dir: imgs\n  mean: [0.485, 0.456, 0.406]\n  std:\n    - 0.229\n    - 0.224\n"
                       "    - 0.225\n  class_names: [cat, \"dog\", 'ant bee']\naugmentation:\n  horizontal_flip: yes\n";
    char *path = temp_yaml(text, strlen(text));
    ct_config c;
    ct_config_defaults(&c);
    int rc = ct_config_load(&c, path);
    TU_CHECK(rc == CT_OK, "lists load: %s", ct_last_error());
    TU_CHECK(c.data.mean_n == 3 && c.data.mean_list[2] == 0.406 && c.data.mean == 0.485, "mean list");
    TU_CHECK(c.data.std_n == 3 && c.data.std_list[1] == 0.224, "std block list");
    TU_CHECK(c.data.class_names_n == 3 && !strcmp(c.data.class_names[2], "ant bee"), "class names");
    TU_CHECK(c.augmentation.horizontal_flip, "horizontal_flip");
    TU_CHECK(ct_config_validate(&c) == CT_OK, "valid: %s", ct_last_error());
    roundtrip(&c, "lists");
    char *j = NULL;
    TU_CHECK(ct_config_to_json(&c, &j) == CT_OK && j && strstr(j, "\"mean\":[0.485,0.456,0.406]") &&
                 strstr(j, "\"class_names\":[\"cat\",\"dog\",\"ant bee\"]") && strstr(j, "\"horizontal_flip\":true"),
             "lists in JSON: %s", j ? j : "");
    free(j);
    float mean[4], std[4];
    TU_CHECK(ct_config_data_norm(&c.data, 3, mean, std) == CT_OK && mean[1] == 0.456f && std[2] == 0.225f,
             "norm for 3 channels");
    rc = ct_config_data_norm(&c.data, 1, mean, std);
    char want[600];
    snprintf(want, sizeof want, "%s:3:9: data.mean has 3 values but the data set's images have 1 channel", path);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), want), "norm mismatch names the place: %s",
             ct_last_error());
    unlink(path);
    free(path);
    /* one number serves every channel; a later number replaces a list */
    ct_config_defaults(&c);
    TU_CHECK(ct_config_data_norm(&c.data, 3, mean, std) == CT_OK && mean[2] == 0.1307f && std[0] == 0.3081f,
             "scalar for 3 channels");
    TU_CHECK(ct_config_set(&c, "data.mean=[0.1, 0.2]") == CT_OK && c.data.mean_n == 2, "--set list: %s",
             ct_last_error());
    rc = ct_config_data_norm(&c.data, 3, mean, std);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "--set data.mean=[0.1, 0.2]: data.mean has 2 values"),
             "--set mismatch: %s", ct_last_error());
    TU_CHECK(ct_config_set(&c, "data.mean=0.5") == CT_OK && c.data.mean_n == 0 && c.data.mean == 0.5, "scalar again");
    TU_CHECK(ct_config_set(&c, "data.class_names=[a, b]") == CT_OK && c.data.class_names_n == 2, "--set names");
    TU_CHECK(ct_config_set(&c, "data.class_names=") == CT_OK && c.data.class_names_n == 0, "--set names null");

    expect_text_error("data:\n  mean: [0.5, .nan]\n", 2, 15, "data.mean[1]", "is not finite; allowed: a finite number");
    expect_text_error("data:\n  std: [0.5, 0]\n", 2, 14, "data.std[1]", "0 is out of range; allowed: a finite number > 0");
    expect_text_error("data:\n  mean: [1, 2, 3, 4, 5]\n", 2, 22, "data.mean[4]", "more than 4 items");
    expect_text_error("data:\n  mean: []\n", 2, 9, "data.mean", "an empty list");
    expect_text_error("data:\n  mean: [[1]]\n", 2, 10, "data.mean[0]", "got a sequence as a list item");
    expect_text_error("data:\n  mean: [a]\n", 2, 10, "data.mean[0]", "expected a finite number, got 'a'");
    expect_text_error("data:\n  class_names: cat\n", 2, 16, "data.class_names", "write the names as a list");
    expect_text_error("data:\n  class_names: [a, '']\n", 2, 20, "data.class_names[1]", "empty class name");
    expect_text_error("data:\n  class_names: [a, ~]\n", 2, 20, "data.class_names[1]", "empty class name");
    expect_text_error("augmentation:\n  horizontal_flip: 1\n", 2, 20, "augmentation.horizontal_flip",
                      "expected a boolean");
}

static void test_validate(void)
{
    ct_config c;
    ct_config_defaults(&c);
    c.augmentation.scale_range_min = 1.2;
    int rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "augmentation.scale_range_min (1.2) must be <= "
                                                              "augmentation.scale_range_max (1.1)"),
             "scale range cross-check: %s", ct_last_error());
    /* the cross-field rule is not applied by a load, so a later --set can fix it */
    TU_CHECK(ct_config_set(&c, "augmentation.scale_range_max=1.5") == CT_OK && ct_config_validate(&c) == CT_OK,
             "fixed by --set: %s", ct_last_error());

    ct_config_defaults(&c);
    c.model.hidden_size = 255;
    rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "model.hidden_size") && strstr(ct_last_error(), "odd"),
             "odd hidden_size: %s", ct_last_error());
    ct_config_defaults(&c);
    c.training.epochs = 0;
    rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "training.epochs: 0 is out of range"), "epochs 0: %s",
             ct_last_error());
    ct_config_defaults(&c);
    strcpy(c.training.optimizer_type, "Adam");
    rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "training.optimizer_type"), "optimizer 'Adam' in struct: %s",
             ct_last_error());
    ct_config_defaults(&c);
    c.data.std = NAN;
    rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "data.std: .nan is not finite"), "std NaN: %s",
             ct_last_error());
    ct_config_defaults(&c);
    c.output.runs_dir[0] = 0;
    rc = ct_config_validate(&c);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "output.runs_dir: must not be empty"), "empty runs_dir: %s",
             ct_last_error());
}

static void test_json(void)
{
    ct_config c;
    ct_config_defaults(&c);
    strcpy(c.deployment.custom_model_name, "a\"b\\c");
    char *j = NULL;
    TU_CHECK(ct_config_to_json(&c, &j) == CT_OK && j, "to_json: %s", ct_last_error());
    if (!j) return;
    size_t n = strlen(j);
    TU_CHECK(n > 2 && j[0] == '{' && j[n - 1] == '}', "JSON is one object: %s", j);
    const char *want[] = {"{\"model\":{\"conv1_channels\":32,", "\"use_batch_norm\":true}",
                          "\"training\":{\"batch_size\":64,\"learning_rate\":0.001,", "\"optimizer_type\":\"adam\"",
                          "\"weight_decay\":1e-05", "\"seed\":42", "\"rotation_degrees\":15.0",
                          "\"custom_model_name\":\"a\\\"b\\\\c\"", "\"evaluation\":{\"batch_size\":1000}",
                          "\"return_probabilities\":false},\"device\":\"\"}"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        TU_CHECK(strstr(j, want[i]) != NULL, "JSON has %s: %s", want[i], j);
    /* braces balance outside strings, nothing after the object */
    int depth = 0, in_str = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = j[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"')
            in_str = 1;
        else if (ch == '{')
            depth++;
        else if (ch == '}' && --depth == 0 && i != n - 1)
            bad = 1;
    }
    TU_CHECK(depth == 0 && !in_str && !bad, "JSON braces balance");
    free(j);

    c.data.mean = INFINITY; /* not valid, but the writer must still emit valid JSON */
    TU_CHECK(ct_config_to_json(&c, &j) == CT_OK && strstr(j, "\"mean\":null"), "non-finite -> null");
    free(j);
}

int main(void)
{
    root = getenv("CLTRAIN_SOURCE_DIR");
    if (!root || !root[0]) root = "..";
    test_defaults_match_file();
    test_shipped_configs();
    test_roundtrip();
    test_fixture_errors();
    test_ranges();
    test_files();
    test_set();
    test_validate();
    test_json();
    test_lists();
    return tu_finish();
}
