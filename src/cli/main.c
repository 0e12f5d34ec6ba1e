/* main.c: the cltrain command line: dispatches to the command files (src/cli/cli_*.c) and
 * turns their statuses into the documented exit codes. The only file that exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "dist/dist.h"
#include "io/pipes_cltrain.h"
#include "nn/prewarm.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"devices", cli_devices, "devices [--json]\n      list every OpenCL platform and device"},
    {"verify", cli_verify, "verify [--device SEL] [--kernels cpu|gpu] [--sizes small|real] [--batch N] [--tuned] [--all-tunables] [--json]\n      check every kernel on a device against the C reference"},
    {"train", cli_train,
     "train [--config F] [--set section.key=value]... [--data DIR] [--device SEL] [--json]\n"
     "      [--resume RUN_DIR|CHECKPOINT]\n"
     "      train DigitCNN (fetches MNIST into data.dir when missing); --resume continues a run exactly"},
    {"pipeline", cli_pipeline, "pipeline [--config F] [--set section.key=value]... [--data DIR] [--device SEL] [--json]\n      the whole job: data -> train -> evaluate -> deploy; writes runs/<model>/pipeline.json (exit 5: skipped)"},
    {"models", cli_models, "models [--config F] [--set k=v]... [--json]\n      saved models in output.model_save_dir, newest first, and which one is in production"},
    {"evaluate", cli_evaluate, "evaluate [--model NAME|PATH] [--data DIR] [--device SEL] [--config F] [--set k=v]... [--json]\n      test accuracy, loss, confusion matrix, classification report; writes evaluation.json and PNGs"},
    {"deploy", cli_deploy, "deploy [--model NAME|PATH] [--threshold X] [--force] [--custom NAME] [--no-onnx] [--config F] [--set k=v]... [--json]\n      copy the model (and its ONNX export) to production if its test accuracy >= threshold (exit 5: skipped)"},
    {"predict", cli_predict, "predict [--model NAME|PATH] [--threshold X] [--probabilities] [--logits] [--json] INPUT...\n      predict digits in PNG/PGM pictures and IDX files (exit 3 when an input could not be read)"},
    {"export", cli_export,
     "export [--model NAME|PATH] [--config F] [--format onnx] [-o FILE] [--opset 13] [--softmax] [--json]\n"
     "      write the model as ONNX (input 'input' [N,C,H,W], output 'logits'; runs in ONNX Runtime)"},
    {"summary", cli_summary,
     "summary [--config F] [--set section.key=value]... [--json | --network-json]\n"
     "      the network's layers: output shapes, parameters, MFLOP per image, device memory at the batch size"},
    {"tune", cli_tune,
     "tune [--device SEL] [--kernels cpu|gpu] [--config F] [--budget SECONDS] [--batch N] [--json] [--show]\n"
     "      a bounded, verified search over the kernel tunables for the configured network; cached per device"},
    {"bench", cli_bench,
     "bench [--device SEL] [--batch N] [--steps N] [--eval-batch N] [--json]\n"
     "      training/evaluation images/s, per-kernel profile, build times, device memory"},
};

static void usage(FILE *f)
{
    fprintf(f, "cltrain %s: train convolutional networks on any OpenCL device\n\nusage: cltrain COMMAND [options]\n\n",
            CLTRAIN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(f, "  %s\n", commands[i].help);
    fprintf(f, "  help [COMMAND] | --version\n\n"
               "COMMAND --help (or help COMMAND) lists a command's options; --opt value and --opt=value are\n"
               "the same, and options may come in any order: the config file is read first, then --data,\n"
               "then each --set in turn.\n"
               "--device SEL: a global index, P:D, a type (gpu, igpu, cpu, accelerator) or part of a\n"
               "platform/vendor/device name; default: the config's device, $CLTRAIN_DEVICE, else the best\n"
               "(simulators such as Oclgrind last).\n"
               "--kernels cpu|gpu: the kernel profile (tile options, code paths) whatever the device type;\n"
               "default: $CLTRAIN_KERNELS, else by device type.\n"
               "--json: the last line of stdout is one JSON object. -q quieter, -v verbose.\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage/config error, 3 bad input file,\n"
               "            4 interrupted, 5 deployment skipped, 6 out of memory\n");
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CT_ERR_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "__prewarm")) return ct_prewarm_child(argc, argv); /* train's compile helper (nn/prewarm.h) */
    if (!strcmp(cmd, "help") && argc >= 3) { /* cltrain help CMD: the command's own --help */
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *av[] = {argv[0], argv[2], "--help", NULL};
                return commands[i].run(3, av);
            }
        fprintf(stderr, "cltrain: help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return CT_ERR_USAGE;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("cltrain %s\n", CLTRAIN_VERSION);
        return 0;
    }
    /* under mpirun/srun with several processes only train and bench work together; any other
     * command would run N times side by side (N pipelines, deployments, ...) */
    if (ct_dist_launched_size() > 1 && strcmp(cmd, "train") && strcmp(cmd, "bench")) {
        fprintf(stderr, "cltrain: error: '%s' runs as one process; under an MPI launcher with %d processes only "
                        "'train' and 'bench' run (data parallel). Run '%s' without mpirun/mpiexec/srun\n",
                cmd, ct_dist_launched_size(), cmd);
        return CT_ERR_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc, argv);
    fprintf(stderr, "cltrain: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CT_ERR_USAGE;
}

/* The single exit path: under Dagster Pipes (DAGSTER_PIPES_CONTEXT set) the command runs inside a
 * session that ends with `closed` whatever the outcome (src/io/pipes_cltrain.h). */
int main(int argc, char **argv)
{
    char **av;
    int ac;
    int rc = ct_pipes_cli_begin(argc, argv, &ac, &av);
    if (rc) {
        fprintf(stderr, "cltrain: error: Dagster Pipes: %s\n", ct_last_error());
        return ct_pipes_cli_end(rc);
    }
    rc = dispatch(ac, av);
    /* a data-parallel run (train, bench under mpirun): a failure on one rank ends the whole job,
     * since the others may wait for it in a collective; an interruption is agreed by all ranks */
    ct_dist_finalize(rc != CT_OK && rc != CT_ERR_INTERRUPTED, rc);
    return ct_pipes_cli_end(rc);
}
