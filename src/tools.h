/* tools.h: the helper scripts cltrain runs (tools/fetch-mnist.sh): where they are, and running
 * one without a shell. Installed, they live in <prefix>/share/cltrain/tools next to
 * <prefix>/bin/cltrain (cmake --install); a binary in the build tree uses the source tools/. */
#ifndef CLTRAIN_TOOLS_H
#define CLTRAIN_TOOLS_H

#include <stddef.h>

/* The path of tool `name`: beside the running binary (/proc/self/exe, then
 * CLTRAIN_TOOLS_RELDIR from its folder), else the build tree's tools/ folder. Returns CT_OK, or
 * CT_ERR_INPUT naming the places looked at. */
int ct_tool_path(const char *name, char *out, size_t cap);

/* Runs `bash SCRIPT ARGS...` (argv: NULL-terminated; no shell parses anything, so any byte is
 * fine in a path) with its stdout sent to stderr, and waits. *exit_code: the script's exit
 * status, or 128 + signal when a signal ended it. Returns CT_OK when it could be run (whatever
 * its exit status), else CT_ERR_RUNTIME. */
int ct_run_tool(const char *script, const char *const *args, int *exit_code);

#endif
