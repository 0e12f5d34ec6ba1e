/* cli_train.c: `cltrain train`: config + overrides in, training job, result printed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "train.h"

int cli_train(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    ct_train_opts to = {0};
    /* --resume RUN_DIR_OR_CHECKPOINT: the config comes from the checkpoint, --set goes on top */
    char ckpt[4200] = "";
    const char *resume_arg = NULL;
    long ck_subset = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 >= argc) return cli_die(ct_fail(CT_ERR_USAGE, "--resume needs a run folder or a checkpoint file"));
            if (resume_arg) return cli_die(ct_fail(CT_ERR_USAGE, "--resume given twice"));
            resume_arg = argv[i + 1];
        }
    }
    if (resume_arg) {
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--config"))
                return cli_die(ct_fail(CT_ERR_USAGE, "--resume takes the config stored in the checkpoint; change keys "
                                                     "with --set section.key=value instead of --config"));
        int rc = ct_train_resume_config(resume_arg, &cfg, ckpt, sizeof ckpt, &ck_subset);
        if (rc) return cli_die(rc);
        to.resume = ckpt;
        to.subset = ck_subset;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            i++;
            continue;
        }
        int t = cli_take_standard(argc, argv, &i, &o, &cfg, &sets);
        if (t < 0) return cli_die(-t);
        if (t) continue;
        if (!strcmp(argv[i], "--subset") && i + 1 < argc) {
            char *end;
            to.subset = strtol(argv[++i], &end, 10);
            if (*end || to.subset < 1) return cli_die(ct_fail(CT_ERR_USAGE, "--subset needs a positive number of images"));
            if (resume_arg && to.subset != ck_subset)
                return cli_die(ct_fail(CT_ERR_USAGE, "--subset %ld differs from the checkpointed run's %ld", to.subset,
                                       ck_subset));
            continue;
        }
        return cli_die(ct_fail(CT_ERR_USAGE,
                           "train: unknown option '%s' (allowed: --config F, --set section.key=value, --data DIR, "
                           "--device SEL, --resume RUN_DIR_OR_CHECKPOINT, --subset N, --json, -q, -v)",
                           argv[i]));
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    to.device = o.device;
    to.json = o.json;
    to.handle_signals = 1;
    /* a full disk or a file size limit: write() fails with EFBIG and the error is reported cleanly */
    signal(SIGXFSZ, SIG_IGN);
    ct_train_result r;
    rc = ct_train(&cfg, &to, &r);
    if (rc == CT_ERR_INTERRUPTED && r.checkpoint_path[0]) {
        fprintf(stderr, "cltrain: %s\ncltrain: checkpoint written: %s\ncltrain: resume with: %s train --resume %s%s%s\n",
                ct_last_error(), r.checkpoint_path, argv[0], r.checkpoint_dir, o.device ? " --device " : "",
                o.device ? o.device : "");
        return rc;
    }
    if (rc) {
        int e = cli_die(rc);
        if (r.checkpoint_path[0] && !strstr(ct_last_error(), "last good checkpoint"))
            fprintf(stderr, "cltrain: the last checkpoint is %s\n", r.checkpoint_path);
        return e;
    }
    if (o.json) {
        ct_jw w;
        ct_jw_init(&w);
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "model_path");
        ct_jw_string(&w, r.model_path);
        ct_jw_key(&w, "model_name");
        ct_jw_string(&w, r.model_name);
        ct_jw_key(&w, "run_dir");
        ct_jw_string(&w, r.run_dir);
        ct_jw_key(&w, "final_val_accuracy");
        ct_jw_double(&w, r.final_val_accuracy);
        ct_jw_key(&w, "best_val_accuracy");
        ct_jw_double(&w, r.best_val_accuracy);
        ct_jw_key(&w, "test_accuracy");
        if (r.test_accuracy >= 0) ct_jw_double(&w, r.test_accuracy);
        else ct_jw_null(&w);
        ct_jw_key(&w, "epochs_run");
        ct_jw_int(&w, r.epochs_run);
        ct_jw_key(&w, "training_epochs");
        ct_jw_int(&w, r.epochs_run);
        ct_jw_key(&w, "configured_epochs");
        ct_jw_int(&w, r.configured_epochs);
        ct_jw_key(&w, "final_train_loss");
        ct_jw_double(&w, r.final_train_loss);
        ct_jw_key(&w, "model_parameters");
        ct_jw_int(&w, r.model_parameters);
        ct_jw_key(&w, "learning_rate");
        ct_jw_double(&w, cfg.training.learning_rate);
        ct_jw_key(&w, "final_learning_rate");
        ct_jw_double(&w, r.learning_rate);
        ct_jw_key(&w, "batch_size");
        ct_jw_int(&w, cfg.training.batch_size);
        ct_jw_key(&w, "optimizer");
        ct_jw_string(&w, cfg.training.optimizer_type);
        ct_jw_key(&w, "early_stopping_used");
        ct_jw_bool(&w, r.early_stopped);
        ct_jw_key(&w, "train_images_per_second");
        ct_jw_double(&w, r.train_images_per_second);
        ct_jw_key(&w, "train_samples");
        ct_jw_int(&w, r.train_samples);
        ct_jw_key(&w, "val_samples");
        ct_jw_int(&w, r.val_samples);
        ct_jw_key(&w, "seconds");
        ct_jw_double(&w, r.seconds);
        ct_jw_key(&w, "device");
        ct_jw_string(&w, r.device);
        ct_jw_key(&w, "checkpoint_path");
        if (r.checkpoint_path[0]) ct_jw_string(&w, r.checkpoint_path);
        else ct_jw_null(&w);
        ct_jw_key(&w, "resumed_from_epoch");
        ct_jw_int(&w, r.resumed_from_epoch);
        ct_jw_end_object(&w);
        int jrc = cli_print_json(&w);
        if (jrc) return cli_die(jrc);
    }
    return CT_OK;
}
