// Counting a training step's heap allocations: over the whole process, or over the threads of
// one thread pool (the caller among them) when other threads may allocate meanwhile.

import CAllocationCounter
import ForesightCore
import Synchronization

/// The allocations of the quietest of three windows of 10 calls of `step`: a thread that an
/// earlier test left running may allocate during one window, while an allocation inside
/// `step` itself shows in all three. With `pool`, only the allocations of the pool's threads
/// and the caller count: a library's event loop left by an earlier test (gRPC's, in the fleet
/// tests) can allocate in every window, but never on those threads.
func quietestWindowAllocations(pool: ThreadPool? = nil, _ step: () throws -> Void) rethrows -> UInt64 {
    try quietestWindowAllocationsSayingWhatCounted(pool: pool, step).allocations
}

/// `quietestWindowAllocations`, and whether only the pool's threads were counted: should a
/// pool thread never get a chunk (a machine judged crowded runs every region on the caller),
/// the whole process is counted instead.
func quietestWindowAllocationsSayingWhatCounted(pool: ThreadPool?, _ step: () throws -> Void) rethrows
    -> (allocations: UInt64, poolOnly: Bool) {
    let poolOnly = pool.map(markForCounting) ?? false
    let count: () -> UInt64 = if poolOnly { foresight_marked_allocation_count } else { foresight_allocation_count }
    let allocations = try (0..<3).map { _ in
        let before = count()
        for _ in 0..<10 { try step() }
        return count() - before
    }.min()!
    return (allocations, poolOnly)
}

/// Marks every thread of `pool` (the calling thread is its thread 0) for
/// `foresight_marked_allocation_count`, running regions until each thread has run a chunk
/// (false if one did not within 100,000 regions).
private func markForCounting(_ pool: ThreadPool) -> Bool {
    final class Marking: ParallelWork, @unchecked Sendable {
        let seen = Atomic<UInt64>(0)
        func work(chunk: Int, of chunks: Int, thread: Int) {
            foresight_mark_thread_for_counting()
            seen.bitwiseOr(1 << UInt64(thread), ordering: .relaxed)
        }
    }
    precondition(pool.threadCount <= 64, "at most 64 threads are marked")
    let marking = Marking(), all: UInt64 = pool.threadCount == 64 ? .max : (1 << UInt64(pool.threadCount)) - 1
    for _ in 0..<100_000 where marking.seen.load(ordering: .relaxed) != all {
        pool.run(marking, chunks: 4 * pool.threadCount)
    }
    return marking.seen.load(ordering: .relaxed) == all
}
