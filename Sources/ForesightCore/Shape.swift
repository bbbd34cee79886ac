// Tensor shapes and row-major strides. Plan-time values: kernels receive plain integers.

/// The extents of a tensor, outermost first (NCHW for images: `[batch, channels, height, width]`).
///
/// ```swift
/// let shape = try Shape(8, 4, 64, 64)
/// shape.count      // 131072
/// shape.strides    // [16384, 4096, 64, 1]
/// ```
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// Extents, outermost first.
    public let dims: [Int]

    /// Creates a shape; every extent must be positive.
    public init(_ dims: [Int]) throws(CoreError) {
        guard !dims.isEmpty else { throw CoreError.emptyShape }
        for (axis, extent) in dims.enumerated() where extent <= 0 {
            throw CoreError.nonPositiveExtent(dims: dims, axis: axis)
        }
        var total = 1
        for extent in dims {
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw CoreError.shapeTooLarge(dims: dims) }
            total = product
        }
        self.dims = dims
    }

    /// Creates a shape from its extents.
    public init(_ dims: Int...) throws(CoreError) { try self.init(dims) }

    /// A shape from a literal; the literal must be valid (a programmer error traps).
    public init(arrayLiteral elements: Int...) {
        do { try self.init(elements) } catch { preconditionFailure("invalid shape literal \(elements): \(error)") }
    }

    /// Number of axes.
    public var rank: Int { dims.count }
    /// Number of elements.
    public var count: Int { dims.reduce(1, *) }
    /// Extent of one axis; negative axes count from the end.
    public subscript(axis: Int) -> Int { dims[axis < 0 ? dims.count + axis : axis] }

    /// Row-major (C-contiguous) strides, in elements.
    public var strides: [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        var running = 1
        for axis in stride(from: dims.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= dims[axis]
        }
        return strides
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: "x") + "]" }
}

