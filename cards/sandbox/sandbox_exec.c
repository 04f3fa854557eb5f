/* sandbox-exec: the root-side steps before bubblewrap, then exec it as the run's unprivileged uid.
 *
 * The worker starts this with vfork+exec (posix_spawn-like, no Python between fork and exec): a
 * Python preexec_fn forces a full fork() of the worker, whose cost grows with its memory, and runs
 * the interpreter in the child. Steps, in order (each failure is reported on stderr, exit 127, and
 * nothing of the run starts):
 *   join the run's cgroups, join the grader's network namespace, take a private mount namespace
 *   with a fresh size- and inode-capped tmpfs, set rlimits, drop to the run's uid and gid with no
 *   supplementary groups, ask to be killed if the worker dies, exec the program.
 *
 * Usage (cards/sandbox/jail.py builds it; every argument is the worker's, never the learner's):
 *   sandbox-exec [--cgroup PROCS_FILE]... [--netns FD] --tmpfs DIR OPTIONS
 *                [--rlimit RESOURCE:SOFT:HARD]... --uid UID --gid GID --parent PID -- PROGRAM ARGS...
 * Built by scripts/install_sandbox.sh into $SANDBOX_ROOT/bin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_CGROUPS 8
#define MAX_RLIMITS 16

static void fail(const char *step) {
    fprintf(stderr, "sandbox-exec: %s: %s\n", step, strerror(errno));
    _exit(127);
}

static void usage(const char *why) {
    fprintf(stderr, "sandbox-exec: %s\n", why);
    _exit(127);
}

static long long number(const char *text) {
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end) usage("bad number in arguments");
    return value;
}

int main(int argc, char **argv) {
    const char *cgroups[MAX_CGROUPS];
    int n_cgroups = 0, n_rlimits = 0, netns_fd = -1;
    struct { int resource; struct rlimit limit; } rlimits[MAX_RLIMITS];
    const char *tmpfs_dir = NULL, *tmpfs_options = NULL;
    long long uid = -1, gid = -1, parent = -1;
    int i = 1;

    for (; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--")) { i++; break; }
        if (i + 1 >= argc) usage("an option lacks its value");
        if (!strcmp(opt, "--cgroup")) {
            if (n_cgroups == MAX_CGROUPS) usage("too many --cgroup");
            cgroups[n_cgroups++] = argv[++i];
        } else if (!strcmp(opt, "--netns")) {
            netns_fd = (int)number(argv[++i]);
        } else if (!strcmp(opt, "--tmpfs")) {
            if (i + 2 >= argc) usage("--tmpfs needs DIR and OPTIONS");
            tmpfs_dir = argv[++i];
            tmpfs_options = argv[++i];
        } else if (!strcmp(opt, "--rlimit")) {
            unsigned long long soft, hard;
            int resource;
            if (n_rlimits == MAX_RLIMITS) usage("too many --rlimit");
            if (sscanf(argv[++i], "%d:%llu:%llu", &resource, &soft, &hard) != 3) usage("bad --rlimit");
            rlimits[n_rlimits].resource = resource;
            rlimits[n_rlimits].limit.rlim_cur = soft;
            rlimits[n_rlimits].limit.rlim_max = hard;
            n_rlimits++;
        } else if (!strcmp(opt, "--uid")) {
            uid = number(argv[++i]);
        } else if (!strcmp(opt, "--gid")) {
            gid = number(argv[++i]);
        } else if (!strcmp(opt, "--parent")) {
            parent = number(argv[++i]);
        } else {
            usage("unknown option");
        }
    }
    /* Never run anything as root: a uid, a gid and a program are required. */
    if (i >= argc || uid <= 0 || gid <= 0 || parent <= 0 || !tmpfs_dir) usage("missing --uid, --gid, --parent, --tmpfs or program");

    char pid[32];
    int pid_len = snprintf(pid, sizeof pid, "%d", (int)getpid());
    for (int c = 0; c < n_cgroups; c++) {
        int fd = open(cgroups[c], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, pid, pid_len) != pid_len) fail("joining the run's cgroup");
        close(fd);
    }
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) fail("joining the network namespace");
    if (netns_fd >= 0) close(netns_fd);
    if (unshare(CLONE_NEWNS) != 0) fail("unsharing the mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("making mounts private");
    if (mount("tmpfs", tmpfs_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfs_options) != 0) fail("mounting /tmp");
    for (int r = 0; r < n_rlimits; r++)
        if (setrlimit(rlimits[r].resource, &rlimits[r].limit) != 0) fail("setting an rlimit");
    if (setgroups(0, NULL) != 0) fail("dropping supplementary groups");
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0) fail("setting the gid");
    if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) fail("setting the uid");
    /* After the uid change, which clears it: the worker dying takes bubblewrap (and the run) with it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("setting the parent-death signal");
    if (getppid() != (pid_t)parent) _exit(127); /* the worker died before the line above */
    execv(argv[i], &argv[i]);
    fail("starting the program");
    return 127;
}
