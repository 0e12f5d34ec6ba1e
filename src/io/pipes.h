/* pipes.h: Dagster Pipes, the external-process side of the protocol (protocol version 0.1).
 *
 * An orchestrator (Dagster's PipesSubprocessClient) starts cltrain with DAGSTER_PIPES_CONTEXT and
 * DAGSTER_PIPES_MESSAGES set, each base64(zlib(JSON)). The context parameter says where the
 * context data is ({"path": FILE} or {"data": {...}}), the messages parameter where messages go
 * ({"path": FILE}: one JSON object appended per line, each line one write(); {"stdio":
 * "stderr"|"stdout"}; {"buffered_stdio": "stderr"|"stdout"}: kept in memory, written at close).
 * Messages are {"__dagster_pipes_version": "0.1", "method": M, "params": P}: `opened` first,
 * then log / report_asset_materialization / report_asset_check / report_custom_message, and
 * `closed` last (with an exception {name, message, stack} on failure).
 *
 * One session per process (global state). Every function returns a ct_status with
 * ct_last_error() set on failure; reporting functions are no-ops returning CT_OK while no session
 * is open. SIGINT/SIGTERM during a session write `closed` with an exception before the process
 * dies (see ct_pipes_signal_closed). */
#ifndef CLTRAIN_IO_PIPES_H
#define CLTRAIN_IO_PIPES_H

#include <jansson.h>
#include <stddef.h>

#define CT_PIPES_VERSION "0.1"
#define CT_PIPES_CONTEXT_ENV "DAGSTER_PIPES_CONTEXT"
#define CT_PIPES_MESSAGES_ENV "DAGSTER_PIPES_MESSAGES"

/* --- parameters ------------------------------------------------------------------------------- */
/* Decodes base64 (standard alphabet, padded; '-' '_' and missing padding also accepted) into a
 * malloc'd buffer (NUL-terminated, *len excludes it). CT_ERR_USAGE naming `what` when invalid. */
int ct_pipes_base64_decode(const char *what, const char *in, unsigned char **out, size_t *len);
/* base64(zlib(JSON)) -> JSON value (new reference). `what` names the parameter in messages. */
int ct_pipes_decode_param(const char *what, const char *text, json_t **out);
/* JSON -> base64(zlib(JSON)), malloc'd (the orchestrator's side; for tests and tools). */
char *ct_pipes_encode_param(const json_t *value);

/* --- session ---------------------------------------------------------------------------------- */
/* Opens a session from the two encoded parameters: the message channel first, then the context
 * (so that a context that cannot be loaded is still reported to the orchestrator: `opened` and
 * `closed` with the reason), then writes `opened` and installs the SIGINT/SIGTERM handlers.
 * CT_ERR_USAGE for an undecodable parameter or an unsupported loader/writer. */
int ct_pipes_open(const char *context_param, const char *messages_param);
/* The same from the environment; CT_OK and no session when DAGSTER_PIPES_CONTEXT is unset. */
int ct_pipes_open_env(void);
int ct_pipes_active(void);
/* The context data (borrowed; NULL without a session) and one of its `extras` (NULL if absent). */
const json_t *ct_pipes_context(void);
const json_t *ct_pipes_extra(const char *key);
/* Writes `closed` (with {"name", "message", "stack"} when exc_name is not NULL; stack: NULL or a
 * NULL-terminated list of lines), flushes a buffered channel, closes the channel, restores the
 * signal handlers and ends the session. Returns CT_ERR_RUNTIME when any message of the session
 * could not be written. */
int ct_pipes_close(const char *exc_name, const char *exc_message, const char *const *stack);
/* Async-signal-safe: writes the pending buffered messages and a prepared `closed` message with the
 * exception cltrain.Interrupted ("interrupted by SIGINT/SIGTERM"), once. For signal handlers that
 * end the process (cltrain's own, and train's second-interrupt exit). */
void ct_pipes_signal_closed(int sig);

/* --- messages --------------------------------------------------------------------------------- */
/* level: DEBUG, INFO, WARNING, ERROR or CRITICAL. */
int ct_pipes_log(const char *level, const char *message);
/* asset_key: escaped, '/'-separated, one of the context's asset_keys; NULL = the only one. Each key
 * is materialized at most once per session. data_version may be NULL. metadata: NULL or an object
 * of typed values (ct_pipes_md_*); borrowed. */
int ct_pipes_report_materialization(const char *asset_key, const char *data_version, const json_t *metadata);
/* severity: WARN or ERROR. */
int ct_pipes_report_check(const char *asset_key, const char *check_name, int passed, const char *severity,
                          const json_t *metadata);
/* payload: any JSON value (borrowed). */
int ct_pipes_report_custom(const json_t *payload);

/* --- typed metadata values: {"type": T, "raw_value": V} ---------------------------------------- */
/* Sets md[key] to a value of type `type` (one of the protocol's types) with raw value `raw`
 * (stolen; NULL = JSON null). Checks that the raw value fits the type. */
int ct_pipes_md_set(json_t *md, const char *key, const char *type, json_t *raw);
/* Non-finite values become null; floats are always written with a fraction or exponent. */
int ct_pipes_md_float(json_t *md, const char *key, double v);
int ct_pipes_md_int(json_t *md, const char *key, long long v);
int ct_pipes_md_bool(json_t *md, const char *key, int v);
int ct_pipes_md_text(json_t *md, const char *key, const char *s);     /* NULL s: null */
int ct_pipes_md_path(json_t *md, const char *key, const char *path);  /* absolute when it exists; NULL: null */
int ct_pipes_md_markdown(json_t *md, const char *key, const char *s);
int ct_pipes_md_json(json_t *md, const char *key, json_t *v); /* v stolen */

/* --- asset keys -------------------------------------------------------------------------------- */
/* The last part of an escaped '/'-separated asset key, unescaped, into out. */
void ct_pipes_asset_key_last(const char *key, char *out, size_t cap);

/* A JSON string from text that may not be valid UTF-8 (invalid bytes become U+FFFD); NULL: null. */
json_t *ct_pipes_string(const char *s);

#endif
