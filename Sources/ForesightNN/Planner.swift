// The memory planner: gives every activation and activation gradient an arena offset such
// that tensors alive at the same time never share bytes. Not a garbage collector: lifetimes
// come from the fixed execution order (forward nodes, then backward nodes in reverse).

import ForesightCore

/// A block of bytes needed from step `first` through step `last` of the schedule.
struct LiveBlock {
    let bytes: Int
    let first: Int
    let last: Int
    var offset = 0
}

/// Places blocks greedily, largest first, at the lowest offset that overlaps no block
/// alive at the same time. Returns the bytes the placement spans.
func planOffsets(_ blocks: inout [LiveBlock]) -> Int {
    let order = blocks.indices.sorted { blocks[$0].bytes != blocks[$1].bytes ? blocks[$0].bytes > blocks[$1].bytes : $0 < $1 }
    var placed: [Int] = []
    var extent = 0
    for index in order {
        let block = blocks[index]
        let conflicts = placed
            .filter { blocks[$0].first <= block.last && block.first <= blocks[$0].last }
            .map { (start: blocks[$0].offset, end: blocks[$0].offset + blocks[$0].bytes) }
            .sorted { $0.start < $1.start }
        var candidate = 0
        for conflict in conflicts {
            if candidate + block.bytes <= conflict.start { break }
            candidate = max(candidate, conflict.end)
        }
        blocks[index].offset = candidate
        placed.append(index)
        extent = max(extent, candidate + block.bytes)
    }
    return extent
}
