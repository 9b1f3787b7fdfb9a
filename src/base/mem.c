/* Resident memory from /proc and getrusage (Linux). */
#include "etl/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "banned.h"

long etl_mem_current_kib(void)
{
    return etl_mem_rss_kib_of(0);
}

long etl_mem_rss_kib_of(int pid)
{
    /* statm's second field is resident pages; cheap enough to read per batch. */
    char path[64] = "/proc/self/statm";
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[128] = "";
    const char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (!got)
        return 0;
    char *end = NULL;
    (void)strtol(line, &end, 10); /* total size: skipped */
    long resident = strtol(end, NULL, 10);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

size_t etl_mem_children(int pid, int *out, size_t cap)
{
    /* The children of pid's main thread: every process etl starts is forked from it. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int child;
    while (n < cap && fscanf(f, "%d", &child) == 1) // NOLINT(cert-err34-c): plain pids
        out[n++] = child;
    fclose(f);
    return n;
}

long etl_mem_rss_kib_largest_child(int pid)
{
    int children[64];
    size_t n = etl_mem_children(pid, children, sizeof(children) / sizeof(children[0]));
    long largest = 0;
    for (size_t i = 0; i < n; i++) {
        long kib = etl_mem_rss_kib_of(children[i]);
        largest = kib > largest ? kib : largest;
    }
    return largest;
}

long etl_mem_peak_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss; /* Linux reports KiB */
}
