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
    public init(_ dims: [Int]) throws(ShapeError) {
        guard !dims.isEmpty else { throw ShapeError.empty }
        for (axis, extent) in dims.enumerated() where extent <= 0 {
            throw ShapeError.nonPositiveExtent(dims: dims, axis: axis)
        }
        var total = 1
        for extent in dims {
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw ShapeError.tooLarge(dims: dims) }
            total = product
        }
        self.dims = dims
    }

    /// Creates a shape from its extents.
    public init(_ dims: Int...) throws(ShapeError) { try self.init(dims) }

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

/// Why a shape is not valid.
public enum ShapeError: Error, Equatable, CustomStringConvertible {
    case empty
    case nonPositiveExtent(dims: [Int], axis: Int)
    case tooLarge(dims: [Int])
    case mismatch(operation: String, expected: String, got: String)

    public var description: String {
        switch self {
        case .empty: "a shape needs at least one axis"
        case let .nonPositiveExtent(dims, axis): "shape \(dims) has extent \(dims[axis]) on axis \(axis); every extent must be at least 1"
        case let .tooLarge(dims): "shape \(dims) has more elements than an Int can count"
        case let .mismatch(operation, expected, got): "\(operation): expected \(expected), got \(got)"
        }
    }
}
