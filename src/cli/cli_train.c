/* cli_train.c: `cltrain train`: config + overrides in, training job, result printed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "io/jsonutil.h"
#include "train.h"

enum { K_RESUME = 256, K_SUBSET };

typedef struct {
    const char *resume;
    long subset;
} train_args;

static int take(int key, const char *val, void *user)
{
    train_args *t = user;
    char *end;
    switch (key) {
    case K_RESUME:
        if (t->resume) return ct_fail(CT_ERR_USAGE, "--resume given twice");
        if (!*val) return ct_fail(CT_ERR_USAGE, "--resume needs a run folder or a checkpoint file");
        t->resume = val;
        return CT_OK;
    case K_SUBSET:
        t->subset = strtol(val, &end, 10);
        if (!*val || *end || t->subset < 1)
            return ct_fail(CT_ERR_USAGE, "--subset needs a positive number of images");
        return CT_OK;
    }
    return CT_ERR_USAGE;
}

int cli_train(int argc, char **argv)
{
    ct_tune_use_cache(CT_TUNE_CACHE_NETWORK); /* values tuned for the network, if any (not with CLTRAIN_NO_TUNE=1) */
    static const cli_option opts[] = {
        {"resume", 1, K_RESUME, "RUN_DIR|CHECKPOINT", "continue a run exactly (its config; --set goes on top)"},
        {"subset", 1, K_SUBSET, "N", "train on the first N images (tests)"},
        {0}};
    train_args ta = {NULL, 0};
    const cli_command cmd = {"train",
                             "train the network (fetches MNIST into data.dir when missing); --resume continues a "
                             "run exactly",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON, opts, take, &ta};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    ct_train_opts to = {0};
    char ckpt[4200] = "";
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if ((prc = cli_dist_begin()) != CT_OK) return cli_die(prc);
    to.subset = ta.subset;
    if (ta.resume) { /* the config comes from the checkpoint, --data and --set go on top */
        if (o.config)
            return cli_die(ct_fail(CT_ERR_USAGE, "--resume takes the config stored in the checkpoint; change keys "
                                                 "with --set section.key=value instead of --config"));
        long ck_subset = 0;
        int rc = ct_train_resume_config(ta.resume, &cfg, ckpt, sizeof ckpt, &ck_subset);
        if (rc) return cli_die(rc);
        if (ta.subset && ta.subset != ck_subset)
            return cli_die(ct_fail(CT_ERR_USAGE, "--subset %ld differs from the checkpointed run's %ld", ta.subset,
                                   ck_subset));
        to.resume = ckpt;
        to.subset = ck_subset;
    }
    if ((prc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(prc);
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    to.device = o.device;
    to.json = o.json;
    to.handle_signals = 1;
    /* a full disk or a file size limit: write() fails with EFBIG and the error is reported cleanly */
    signal(SIGXFSZ, SIG_IGN);
    ct_train_result r;
    rc = ct_train(&cfg, &to, &r);
    if (r.rank > 0 && (rc == CT_OK || rc == CT_ERR_INTERRUPTED)) return rc; /* rank 0 reports */
    if (rc == CT_ERR_INTERRUPTED && r.checkpoint_path[0]) {
        char launch[64] = "";
        if (r.world_size > 1) snprintf(launch, sizeof launch, "mpirun -np %d ", r.world_size);
        fprintf(stderr,
                "cltrain: %s\ncltrain: checkpoint written: %s\ncltrain: resume with: %s%s train --resume %s%s%s\n",
                ct_last_error(), r.checkpoint_path, launch, argv[0], r.checkpoint_dir, o.device ? " --device " : "",
                o.device ? o.device : "");
        return rc;
    }
    if (rc) {
        int e = cli_die(rc);
        if (r.checkpoint_path[0] && !strstr(ct_last_error(), "last good checkpoint"))
            fprintf(stderr, "cltrain: the last checkpoint is %s\n", r.checkpoint_path);
        return e;
    }
    if (cli_wants_result(o.json)) {
        json_t *w = json_object();
        json_object_set_new(w, "model_path", ct_jstr(r.model_path));
        json_object_set_new(w, "model_name", ct_jstr(r.model_name));
        json_object_set_new(w, "run_dir", ct_jstr(r.run_dir));
        json_object_set_new(w, "final_val_accuracy", ct_jreal(r.final_val_accuracy));
        json_object_set_new(w, "best_val_accuracy", ct_jreal(r.best_val_accuracy));
        if (r.test_accuracy >= 0) json_object_set_new(w, "test_accuracy", ct_jreal(r.test_accuracy));
        else json_object_set_new(w, "test_accuracy", json_null());
        json_object_set_new(w, "epochs_run", json_integer((json_int_t)(r.epochs_run)));
        json_object_set_new(w, "training_epochs", json_integer((json_int_t)(r.epochs_run)));
        json_object_set_new(w, "configured_epochs", json_integer((json_int_t)(r.configured_epochs)));
        json_object_set_new(w, "final_train_loss", ct_jreal(r.final_train_loss));
        json_object_set_new(w, "model_parameters", json_integer((json_int_t)(r.model_parameters)));
        json_object_set_new(w, "learning_rate", ct_jreal(cfg.training.learning_rate));
        json_object_set_new(w, "final_learning_rate", ct_jreal(r.learning_rate));
        json_object_set_new(w, "batch_size", json_integer((json_int_t)(cfg.training.batch_size)));
        json_object_set_new(w, "optimizer", ct_jstr(cfg.training.optimizer_type));
        json_object_set_new(w, "early_stopping_used", json_boolean(r.early_stopped));
        json_object_set_new(w, "train_images_per_second", ct_jreal(r.train_images_per_second));
        json_object_set_new(w, "train_samples", json_integer((json_int_t)(r.train_samples)));
        json_object_set_new(w, "val_samples", json_integer((json_int_t)(r.val_samples)));
        json_object_set_new(w, "seconds", ct_jreal(r.seconds));
        json_object_set_new(w, "device", ct_jstr(r.device));
        if (r.checkpoint_path[0]) json_object_set_new(w, "checkpoint_path", ct_jstr(r.checkpoint_path));
        else json_object_set_new(w, "checkpoint_path", json_null());
        json_object_set_new(w, "resumed_from_epoch", json_integer((json_int_t)(r.resumed_from_epoch)));
        json_object_set_new(w, "world_size", json_integer((json_int_t)r.world_size));
        json_object_set_new(w, "devices_per_rank", json_integer(1));
        json_object_set_new(w, "comm_seconds_per_step", ct_jreal(r.comm_seconds_per_step));
        json_object_set_new(w, "step_seconds", ct_jreal(r.step_seconds));
        json_object_set_new(w, "gradient_bytes", json_integer((json_int_t)r.gradient_bytes));
        int jrc = cli_emit_json(w, o.json);
        if (jrc) return cli_die(jrc);
    }
    return CT_OK;
}
