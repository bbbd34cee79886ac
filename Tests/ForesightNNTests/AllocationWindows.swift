// Counting a training step's heap allocations with a process-wide counter.

import CAllocationCounter

/// The allocations of the quietest of three windows of 10 calls of `step`: a thread that an
/// earlier test left running may allocate during one window, while an allocation inside
/// `step` itself shows in all three.
func quietestWindowAllocations(_ step: () throws -> Void) rethrows -> UInt64 {
    try (0..<3).map { _ in
        let before = foresight_allocation_count()
        for _ in 0..<10 { try step() }
        return foresight_allocation_count() - before
    }.min()!
}
