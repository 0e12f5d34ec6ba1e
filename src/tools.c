/* tools.c: finding and running the helper scripts. See tools.h. */
#define _XOPEN_SOURCE 700
#include "tools.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef CLTRAIN_TOOLS_DIR
#define CLTRAIN_TOOLS_DIR "tools"
#endif
#ifndef CLTRAIN_TOOLS_RELDIR
#define CLTRAIN_TOOLS_RELDIR "../share/cltrain/tools"
#endif

extern char **environ;

/* the folder of the running binary, or "" */
static void exe_dir(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = 0;
    if (n <= 0) return;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return;
    *slash = 0;
    snprintf(out, cap, "%s", self);
}

int ct_tool_path(const char *name, char *out, size_t cap)
{
    char dir[PATH_MAX], installed[PATH_MAX + 256] = "";
    exe_dir(dir, sizeof dir);
    if (dir[0]) {
        snprintf(installed, sizeof installed, "%s/%s/%s", dir, CLTRAIN_TOOLS_RELDIR, name);
        char real[PATH_MAX];
        if (access(installed, R_OK) == 0) {
            snprintf(out, cap, "%s", realpath(installed, real) ? real : installed);
            return CT_OK;
        }
    }
    snprintf(out, cap, "%s/%s", CLTRAIN_TOOLS_DIR, name);
    if (access(out, R_OK) == 0) return CT_OK;
    return ct_fail(CT_ERR_INPUT, "%s is not installed: looked in %s and %s/ (install cltrain with cmake --install, "
                   "or run it from its build folder)", name, installed[0] ? installed : "(no binary path)",
                   CLTRAIN_TOOLS_DIR);
}

int ct_run_tool(const char *script, const char *const *args, int *exit_code)
{
    size_t n = 0;
    while (args && args[n]) n++;
    const char **argv = calloc(n + 3, sizeof *argv);
    if (!argv) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    argv[0] = "bash";
    argv[1] = script;
    for (size_t i = 0; i < n; i++) argv[2 + i] = args[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO); /* our stdout may be --json */
    pid_t pid;
    fflush(NULL);
    int err = posix_spawnp(&pid, "bash", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    if (err) return ct_fail(CT_ERR_RUNTIME, "cannot run bash %s: %s", script, strerror(err));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return ct_fail(CT_ERR_RUNTIME, "waiting for %s: %s", script, strerror(errno));
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    return CT_OK;
}
