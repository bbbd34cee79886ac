// What an operation is in a forward-only model that leaves the training program: the int8
// chain (Int8Model), the float32 NHWC chain (FloatInferenceModel) and the ONNX exporter all
// lower from this one description. `GraphOperation` requires it without a default, so a new
// operation states its form (or why it has none) before it compiles, and the lowerings
// switch over it exhaustively, so a new form compiles only once every lowering handles it.

/// The inference form of an operation.
public enum InferenceForm: Sendable, Equatable {
    /// A 2-D convolution of operands (x, weight [O, I/groups, K, K], optional bias [O]).
    case convolution(stride: Int, padding: Int, groups: Int)
    /// An element-wise activation; a ReLU right after a convolution fuses into it.
    case activation(Activation)
    /// 2x upsampling, nearest-neighbour or bilinear.
    case upsample2x(nearest: Bool)
    /// Max or average pooling.
    case pool2d(maximum: Bool, kernel: Int, stride: Int, padding: Int)
    /// Passes its operand through at inference (fake quantizers: the int8 model quantizes for real).
    case identity
    /// Exists only to train (losses and regularisers); never part of an exported model.
    case trainingOnly
    /// A computation with no lowering yet, and what it is (for the error a user sees).
    case notLowered(String)
}
