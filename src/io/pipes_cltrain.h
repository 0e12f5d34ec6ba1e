/* pipes_cltrain.h: cltrain's commands under Dagster Pipes (pipes.h): the session around a command,
 * the context's extras as command-line options, and each command's --json result turned into
 * materializations of the seed's assets, asset checks and a custom message.
 *
 * Seed asset per command: train -> digit_classifier, evaluate -> model_evaluation, deploy ->
 * production_digit_classifier (+ check accuracy_threshold), predict -> batch_digit_predictions
 * (+ check low_confidence_predictions), pipeline -> processed_mnist_data, digit_classifier,
 * model_evaluation, production_digit_classifier. An asset key is used when its last part is the
 * seed name; a single-asset command given exactly one key uses that key whatever its name. */
#ifndef CLTRAIN_IO_PIPES_CLTRAIN_H
#define CLTRAIN_IO_PIPES_CLTRAIN_H

/* Opens the session when DAGSTER_PIPES_CONTEXT is set (else does nothing: *out_argv = argv).
 * For train/evaluate/deploy/predict/pipeline, the context's extras `set` (list of
 * "section.key=value") and `device` become --set/--device options placed after the command line's
 * --config and before its own options, so the command line wins. Returns CT_ERR_USAGE (message
 * set) for undecodable parameters, unsupported channels or malformed extras. */
int ct_pipes_cli_begin(int argc, char **argv, int *out_argc, char ***out_argv);
/* A command's whole --json result: reports the command's asset(s), checks and the custom message. */
void ct_pipes_cli_result(const char *json_text);
/* One step of `cltrain pipeline` as it completes ({"step": step, "metadata": json_text}). */
void ct_pipes_cli_step(const char *step, const char *json_text);
/* Ends the session with `closed` (an exception named after the exit status when rc != 0) and
 * returns the exit status: a skipped deployment (5) becomes 0 under Pipes, a failure to write the
 * messages makes a successful run 1. Without a session returns rc. */
int ct_pipes_cli_end(int rc);

#endif
