// Calibration of activation ranges for post-training quantization: observers that watch the
// float32 values of a tensor over N inputs and turn them into uint8 parameters by min/max or by
// percentiles. Not the conversion (Int8Model.swift) and not fake quantization (FakeQuantize.swift).

import ForesightCore

/// How an observed range becomes quantization parameters.
public enum CalibrationMethod: Sendable, Equatable {
    /// The smallest and largest value seen.
    case minMax
    /// The `percentile` and `100 - percentile` percentiles of the values seen (e.g. 99.99),
    /// so that rare outliers do not stretch the scale.
    case percentile(Double)
}

/// Watches the values of one tensor over calibration inputs.
///
/// ```swift
/// var observer = ActivationObserver(name: "e1")
/// observer.observe(values)                    // once per calibration batch
/// let q = try observer.quantization(.percentile(99.99))
/// ```
public struct ActivationObserver: Sendable {
    /// The tensor's name (in error messages).
    public let name: String
    /// Smallest and largest finite value seen (NaN once a non-finite value was seen).
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    /// Values kept for percentiles: every `stride`-th value seen, at most `capacity`.
    private var samples: [Float] = []
    private let capacity: Int
    private var seen = 0

    /// An observer keeping at most `capacity` values for percentiles.
    public init(name: String, capacity: Int = 1 << 20) {
        self.name = name
        self.capacity = capacity
    }

    /// Adds the values of one batch (non-finite values are a calibration error later).
    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        for value in values {
            if !value.isFinite { minimum = .nan; maximum = .nan; continue }
            minimum = min(minimum, value)
            maximum = max(maximum, value)
            if samples.count < capacity { samples.append(value) } else {
                // Reservoir-like thinning that stays reproducible: replace a position derived from the count.
                let slot = (seen &* 2_654_435_761) % capacity
                if seen % 4 == 0 { samples[slot] = value }
            }
            seen += 1
        }
    }

    /// The observed range under `method`.
    public func range(_ method: CalibrationMethod) -> (min: Float, max: Float) {
        switch method {
        case .minMax: return (minimum, maximum)
        case let .percentile(p):
            guard !samples.isEmpty, minimum.isFinite else { return (minimum, maximum) }
            let sorted = samples.sorted()
            func at(_ q: Double) -> Float { sorted[min(sorted.count - 1, max(0, Int((q / 100 * Double(sorted.count - 1)).rounded())))] }
            return (at(100 - p), at(p))
        }
    }

    /// uint8 parameters for the observed range; nothing observed or non-finite values throw.
    public func quantization(_ method: CalibrationMethod) throws(CoreError) -> ActivationQuantization {
        let (low, high) = range(method)
        return try ActivationQuantization(min: low, max: high, tensor: name)
    }
}
