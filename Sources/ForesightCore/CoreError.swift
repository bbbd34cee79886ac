// The one error of the runtime's lowest layer: shapes, the arena, and int8 quantization
// parameters. Every case says what is wrong and what would make it right.

/// Why a shape, an arena request or a set of quantization parameters is not usable.
///
/// ```swift
/// do { _ = try Shape([2, 0, 3]) } catch { print(error) }   // CoreError.nonPositiveExtent
/// ```
public enum CoreError: Error, Equatable, CustomStringConvertible, Sendable {
    // Shapes
    /// A shape with no axis.
    case emptyShape
    /// An axis whose extent is 0 or negative.
    case nonPositiveExtent(dims: [Int], axis: Int)
    /// More elements than an Int can count.
    case shapeTooLarge(dims: [Int])
    /// An operation's operands or settings do not fit it: what it expected and what it got.
    case shapeMismatch(operation: String, expected: String, got: String)

    // The arena
    /// A negative capacity.
    case invalidArenaCapacity(Int)
    /// The operating system refused the arena's memory.
    case systemOutOfMemory(requested: Int)
    /// A tensor that does not fit in what the arena has left.
    case arenaOutOfSpace(name: String, requested: Int, used: Int, capacity: Int)

    // Quantization parameters
    /// A scale that is zero, negative, infinite or NaN.
    case invalidScale(tensor: String, scale: Float)
    /// An activation scale so large that a uint8 code's real value is not a finite float32.
    case scaleTooLarge(tensor: String, scale: Float)
    /// A zero point outside the integer range of its type.
    case invalidZeroPoint(tensor: String, zeroPoint: Int32)
    /// A calibration range that is not finite or not ordered.
    case invalidRange(tensor: String, min: Float, max: Float)
    /// A requantization multiplier that fixed point cannot hold (>= 2^30, negative or not finite).
    case multiplierOutOfRange(tensor: String, multiplier: Double)
    /// A stored weight code outside the symmetric range [-127, 127].
    case invalidWeightCode(tensor: String, index: Int)

    public var description: String {
        switch self {
        case .emptyShape: "a shape needs at least one axis"
        case let .nonPositiveExtent(dims, axis): "shape \(dims) has extent \(dims[axis]) on axis \(axis); every extent must be at least 1"
        case let .shapeTooLarge(dims): "shape \(dims) has more elements than an Int can count"
        case let .shapeMismatch(operation, expected, got): "\(operation): expected \(expected), got \(got)"
        case let .invalidArenaCapacity(bytes): "arena capacity must not be negative (got \(bytes) bytes)"
        case let .systemOutOfMemory(bytes): "the system refused \(formatBytes(bytes)) for the arena; free memory or lower the budget"
        case let .arenaOutOfSpace(name, requested, used, capacity):
            "arena out of space for \(name): it needs \(formatBytes(requested)) but only \(formatBytes(max(0, capacity - used))) of \(formatBytes(capacity)) are free"
        case let .invalidScale(tensor, scale):
            "\(tensor): quantization scale \(scale) is not usable; a scale must be positive and finite (the model file or the calibration that produced it is broken)"
        case let .scaleTooLarge(tensor, scale):
            "\(tensor): activation scale \(scale) makes uint8 codes worth more than the largest float32; it must be at most \(ActivationQuantization.largestScale)"
        case let .invalidZeroPoint(tensor, zeroPoint):
            "\(tensor): zero point \(zeroPoint) is outside [0, 255] of uint8 activations"
        case let .invalidRange(tensor, min, max):
            "\(tensor): calibration range [\(min), \(max)] is not a finite, ordered range"
        case let .invalidWeightCode(tensor, index):
            "\(tensor): weight code -128 at element \(index) is outside the symmetric int8 range [-127, 127]"
        case let .multiplierOutOfRange(tensor, multiplier):
            "\(tensor): requantization multiplier \(multiplier) is outside [0, 2^30); the input, weight and output scales do not fit together"
        }
    }
}
