/* Resident memory, as the kernel counts it (the figures bench and --debug-mem show). */
#ifndef ETL_MEM_H
#define ETL_MEM_H

#include <stddef.h>

/* Resident set size now and at its peak, in KiB (0 if unknown). */
long etl_mem_current_kib(void);
/* Resident memory of process pid (0: this one), 0 if it cannot be read. */
long etl_mem_rss_kib_of(int pid);
/*
 * The children of pid (a real pid: 0 is not this process here), at most
 * cap of them into out; how many (0 if none or they cannot be read).
 */
size_t etl_mem_children(int pid, int *out, size_t cap);
/* The largest resident memory among pid's children (etl_mem_children), 0 if none. */
long etl_mem_rss_kib_largest_child(int pid);
long etl_mem_peak_kib(void);

#endif
