// A fixed block of memory sized once, from which tensors are carved. Not a general
// allocator: nothing is freed individually; the planner decides offsets up front.

import Foundation

/// One aligned allocation that holds every tensor of a program.
///
/// ```swift
/// let arena = try Arena(capacity: 1 << 20)
/// let weights = try arena.allocate(Shape(16, 4, 3, 3), name: "e1.weight")
/// ```
public final class Arena: @unchecked Sendable {
    /// Alignment of the block and of every tensor in it, in bytes (one cache line, one AVX-512 vector).
    public static let alignment = 64

    /// Bytes in the block.
    public let capacity: Int
    /// Bytes handed out by `allocate` so far (fixed-offset placements do not count).
    public private(set) var used = 0
    /// Start of the block.
    public let base: UnsafeMutableRawPointer

    /// Reserves `capacity` bytes, zero-filled.
    public init(capacity: Int) throws(CoreError) {
        guard capacity >= 0 else { throw CoreError.invalidArenaCapacity(capacity) }
        let bytes = max(Arena.alignment, Arena.roundUp(capacity))
        guard let memory = aligned_alloc(Arena.alignment, bytes) else {
            throw CoreError.systemOutOfMemory(requested: bytes)
        }
        memset(memory, 0, bytes)
        self.base = memory
        self.capacity = capacity
    }

    deinit { free(base) }

    /// `bytes` rounded up to the arena alignment.
    public static func roundUp(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }

    /// Carves the next tensor out of the block.
    public func allocate(_ shape: Shape, dtype: DType = .float32, name: String) throws(CoreError) -> Tensor {
        let bytes = Arena.roundUp(shape.count * dtype.byteSize)
        guard used + bytes <= capacity else {
            throw CoreError.arenaOutOfSpace(name: name, requested: bytes, used: used, capacity: capacity)
        }
        let tensor = Tensor(data: base + used, shape: shape, dtype: dtype, name: name)
        used += bytes
        return tensor
    }

    /// A tensor at a planned offset (the memory planner decides offsets; lifetimes may share bytes).
    public func tensor(at offset: Int, _ shape: Shape, dtype: DType = .float32, name: String) throws(CoreError) -> Tensor {
        let bytes = shape.count * dtype.byteSize
        guard offset >= 0, offset % Arena.alignment == 0, offset + bytes <= capacity else {
            throw CoreError.arenaOutOfSpace(name: name, requested: bytes, used: offset, capacity: capacity)
        }
        return Tensor(data: base + offset, shape: shape, dtype: dtype, name: name)
    }
}


/// Human-readable byte count ("1.50 MiB").
public func formatBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    if bytes >= 1 << 20 { return String(format: "%.2f MiB", value / 1048576) }
    if bytes >= 1 << 10 { return String(format: "%.1f KiB", value / 1024) }
    return "\(bytes) B"
}
