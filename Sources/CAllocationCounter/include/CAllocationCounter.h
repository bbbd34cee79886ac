// Counts heap allocations of the whole process, for the zero-allocation checks of the
// training step (tests and `foresight bench`). Not a profiler: it only counts calls.
#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Number of malloc/calloc/realloc/aligned allocations made by any thread since start-up.
uint64_t foresight_allocation_count(void);

/// Number of those allocations made by the calling thread: what a check of one thread's work
/// counts when other threads (a library's event loops left from earlier work) may allocate
/// meanwhile.
uint64_t foresight_thread_allocation_count(void);

/// Marks the calling thread: from now on its allocations also count in
/// `foresight_marked_allocation_count`. For checks of work spread over a known set of threads
/// (a thread pool's) while threads outside it may allocate.
void foresight_mark_thread_for_counting(void);

/// Number of allocations made by marked threads since they were marked.
uint64_t foresight_marked_allocation_count(void);

/// Returns 1 when this process's allocations go through the counter (it can fail to when
/// the binary is linked so that libc's malloc wins), else 0.
int foresight_allocation_counter_active(void);

#endif
