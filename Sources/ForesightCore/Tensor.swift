// A typed view into arena memory: a pointer, a shape and a type. Not an owner and not a
// lazy expression: it never allocates and never frees.

/// A view of `shape.count` elements of `dtype` at `data`, row-major.
///
/// ```swift
/// let x = try arena.allocate(Shape(2, 3), name: "x")
/// x.floats[4] = 1                 // element (1, 1)
/// x.fill(0)
/// ```
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// First byte of the first element.
    public let data: UnsafeMutableRawPointer
    /// Extents.
    public let shape: Shape
    /// Element type.
    public let dtype: DType
    /// Name for error messages and model files.
    public let name: String

    public init(data: UnsafeMutableRawPointer, shape: Shape, dtype: DType, name: String) {
        self.data = data
        self.shape = shape
        self.dtype = dtype
        self.name = name
    }

    /// Number of elements.
    public var count: Int { shape.count }
    /// Bytes of the elements.
    public var byteCount: Int { count * dtype.byteSize }

    /// The elements as float32 (the tensor must be float32).
    public var floats: UnsafeMutableBufferPointer<Float> {
        precondition(dtype == .float32, "tensor \(name) is \(dtype), not float32")
        return UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: count)
    }

    /// Pointer to the float32 elements.
    public var floatPointer: UnsafeMutablePointer<Float> { floats.baseAddress! }

    /// The elements as int8 (the tensor must be int8).
    public var int8s: UnsafeMutableBufferPointer<Int8> {
        precondition(dtype == .int8, "tensor \(name) is \(dtype), not int8")
        return UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Int8.self), count: count)
    }

    /// The elements as int32 (the tensor must be int32).
    public var int32s: UnsafeMutableBufferPointer<Int32> {
        precondition(dtype == .int32, "tensor \(name) is \(dtype), not int32")
        return UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Int32.self), count: count)
    }

    /// Sets every float32 element to `value`.
    public func fill(_ value: Float) {
        floats.update(repeating: value)
    }

    /// Sets every byte to zero.
    public func zero() { data.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }

    /// Copies float32 elements in; `values.count` must equal `count`.
    public func copy(from values: [Float]) {
        precondition(values.count == count, "copying \(values.count) values into \(name) of \(count) elements")
        _ = values.withUnsafeBufferPointer { floats.initialize(from: $0) }
    }

    /// The float32 elements as an array (allocates; for tests and tools).
    public func toArray() -> [Float] { Array(floats) }

    /// The same memory seen with another shape of the same element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.count == count, "reshape of \(name) from \(shape) to \(newShape) changes the element count")
        return Tensor(data: data, shape: newShape, dtype: dtype, name: name)
    }

    public var description: String { "\(name): \(dtype) \(shape)" }
}
