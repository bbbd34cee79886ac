// Heap-allocation counter: defines malloc and friends in the linking binary, counts each
// call atomically and forwards it to glibc's own entry points (__libc_malloc & co).
// A C target because the counter must replace the C allocator for every caller in the
// process (Swift runtime, Foundation), which only symbol interposition can do; the
// malloc-interposer package does the same but needs LD_PRELOAD on Linux.
#include "CAllocationCounter.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
// Sanitizers replace the allocator themselves; the counter steps aside (counts read 0).
#define FORESIGHT_SANITIZED 1
#endif
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(FORESIGHT_SANITIZED)
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static uint64_t allocation_count = 0;
static int counter_seen = 0;
// Static TLS (the counter is linked into executables): reading it never allocates.
static __thread uint64_t thread_allocation_count __attribute__((tls_model("initial-exec"))) = 0;

static uint64_t marked_allocation_count = 0;
static __thread int thread_marked __attribute__((tls_model("initial-exec"))) = 0;

static inline void count_one(void) {
    __atomic_fetch_add(&allocation_count, 1, __ATOMIC_RELAXED);
    thread_allocation_count += 1;
    if (thread_marked) __atomic_fetch_add(&marked_allocation_count, 1, __ATOMIC_RELAXED);
    counter_seen = 1;
}

void *malloc(size_t size) { count_one(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { count_one(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { count_one(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    count_one();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

uint64_t foresight_allocation_count(void) {
    return __atomic_load_n(&allocation_count, __ATOMIC_RELAXED);
}

uint64_t foresight_thread_allocation_count(void) {
    return thread_allocation_count;
}

void foresight_mark_thread_for_counting(void) { thread_marked = 1; }

uint64_t foresight_marked_allocation_count(void) {
    return __atomic_load_n(&marked_allocation_count, __ATOMIC_RELAXED);
}

int foresight_allocation_counter_active(void) {
    // Make one allocation through the public symbol and see whether it was counted.
    uint64_t before = foresight_allocation_count();
    void *volatile probe = malloc(16);
    extern void free(void *);
    free(probe);
    return foresight_allocation_count() > before ? 1 : 0;
}
#else
uint64_t foresight_allocation_count(void) { return 0; }
uint64_t foresight_thread_allocation_count(void) { return 0; }
void foresight_mark_thread_for_counting(void) {}
uint64_t foresight_marked_allocation_count(void) { return 0; }
int foresight_allocation_counter_active(void) { return 0; }
#endif
