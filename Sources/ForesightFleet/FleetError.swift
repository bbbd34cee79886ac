// The errors of a Flower node: what the server sent that cannot be taken, and what went wrong
// talking to it. Each message names the part at fault and what it should have been.

/// Why a Fleet exchange failed.
public enum FleetError: Error, CustomStringConvertible, Equatable {
    /// Bytes that do not parse: an object, its header, JSON, a .npy array.
    case malformed(String)
    /// Well-formed parameters that do not fit this model: a missing, extra or misshaped array,
    /// a value that is not finite. The local model is left as it was.
    case mismatched(String)
    /// The server answered, but not as the protocol expects (an object it cannot find, a
    /// refused reply, a node it does not know).
    case protocolViolation(String)
    /// The server cannot be reached or stopped answering.
    case unreachable(String)

    public var description: String {
        switch self {
        case let .malformed(what): "malformed \(what)"
        case let .mismatched(what): "parameters refused: \(what)"
        case let .protocolViolation(what): "Fleet API: \(what)"
        case let .unreachable(what): "the Flower server is unreachable: \(what)"
        }
    }
}
