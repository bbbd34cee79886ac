// The one error of the graph layer: building a graph, planning and running its program,
// setting up an optimizer, and converting a graph to int8.

import ForesightCore

/// Why a model's graph, program, optimizer or int8 form cannot be made or run.
///
/// ```swift
/// do { _ = try Adam(learningRate: -1) } catch { print(error) }   // ModelError.invalidOptimizerSetting
/// ```
public enum ModelError: Error, CustomStringConvertible {
    // Graphs
    /// Two tensors with one name.
    case duplicateName(String)
    /// A tensor index from another graph.
    case unknownTensor(Int, operation: String)
    /// An operation that cannot take these operands or settings.
    case invalidOperation(name: String, reason: String)

    // Programs
    /// The plan does not fit the memory budget; the report says where the bytes go.
    case overBudget(budget: Int, report: MemoryReport)
    /// The loss is not one value.
    case lossNotScalar(String, Shape)
    /// The loss became NaN or infinite; the parameters are as before the step.
    case nonFiniteLoss(step: Int, value: Float)
    /// A gradient clipping norm that is not positive and finite.
    case invalidClipNorm(Float)

    // Optimizers
    /// A hyper-parameter out of its range, said in words.
    case invalidOptimizerSetting(String)

    // int8 conversion
    /// An operation with no int8 form.
    case unsupported(node: String, reason: String)
    /// The operations between two tensors are not one linear chain.
    case notAChain(from: String, to: String)
    /// Calibration was given no input.
    case noCalibrationData
    /// A stored layer (a model file) that cannot be rebuilt: the tensor and what is wrong.
    case invalidStoredLayer(tensor: String, problem: String)

    public var description: String {
        switch self {
        case let .duplicateName(name): "a tensor called \(name) exists already; names in a graph must be unique"
        case let .unknownTensor(index, operation): "\(operation) refers to tensor %\(index), which is not in this graph"
        case let .invalidOperation(name, reason): "\(name): \(reason)"
        case let .overBudget(budget, report):
            "the model needs \(formatBytes(report.total)) but the budget is \(formatBytes(budget)); shrink the batch, the input size or the channel counts:\n\(report)"
        case let .lossNotScalar(name, shape): "the loss \(name) must be a single value, but its shape is \(shape)"
        case let .nonFiniteLoss(step, value):
            "the loss became \(value) at step \(step); the parameters were left as they were before this step (lower the learning rate or enable gradient clipping)"
        case let .invalidClipNorm(value): "the gradient clipping norm must be positive and finite (got \(value))"
        case let .invalidOptimizerSetting(message): message
        case let .unsupported(node, reason): "\(node) cannot run in int8: \(reason)"
        case let .notAChain(from, to): "no linear chain of operations leads from \(from) to \(to)"
        case .noCalibrationData: "calibration needs at least one input batch"
        case let .invalidStoredLayer(tensor, problem): "\(tensor): \(problem)"
        }
    }
}
