// Element types of tensors and their per-type facts in one table. Not a numeric tower:
// kernels are written per type, this only says how big an element is and what it is called.

/// The element type of a tensor.
///
/// ```swift
/// let bytes = DType.float32.byteSize * 1024   // 4096
/// ```
public enum DType: String, Sendable, CaseIterable, Codable {
    case float32
    case int32
    case int8
    case uint8

    /// Per-type facts, kept in one place.
    public struct Traits: Sendable {
        /// Bytes per element.
        public let byteSize: Int
        /// The name in safetensors headers ("F32", "I8", ...).
        public let safetensorsName: String
    }

    /// The facts about this type.
    public var traits: Traits {
        switch self {
        case .float32: Traits(byteSize: 4, safetensorsName: "F32")
        case .int32: Traits(byteSize: 4, safetensorsName: "I32")
        case .int8: Traits(byteSize: 1, safetensorsName: "I8")
        case .uint8: Traits(byteSize: 1, safetensorsName: "U8")
        }
    }

    /// Bytes per element.
    public var byteSize: Int { traits.byteSize }
    /// The name in safetensors headers.
    public var safetensorsName: String { traits.safetensorsName }
}
