// The one error ForesightLive throws: each case names the kind of failure, so a program can act
// on it, and its description is the message a user reads. Not the lower layers' errors
// (SensorError, IOError, TrainingError, ...): those pass through unwrapped.

import Foundation
import ForesightCore

/// Why live learning, imagining or planning cannot start or go on. The case says what kind of
/// failure it is; `description` says what to change.
///
/// ```swift
/// do {
///     try learner.run(source, stallSeconds: 5)
/// } catch let LiveLearningError.sourceStalled(source, seconds) {
///     print("\(source) went quiet for \(seconds) s")
/// }
/// ```
public enum LiveLearningError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A setting, option or device-profile field (`name`: "--batch", "model") whose value live
    /// learning cannot use; the message gives the range or the values it takes.
    case invalidSetting(name: String, message: String)
    /// Options that do not go together, or one that needs another it was not given (two video
    /// sources, `--topic` without `--bag`, actions without pictures).
    case conflictingOptions(message: String)
    /// The plan (model arena, replay reservoir, history) needs more than the memory budget;
    /// `breakdown` says what takes it.
    case overBudget(plannedBytes: Int, budgetBytes: Int, breakdown: String)
    /// The model takes actions of another size than its source or command feed gives.
    case actionMismatch(message: String)
    /// `source` delivered no frame for `seconds` (the stall timeout); the checkpoint was written.
    case sourceStalled(source: String, seconds: Double)
    /// The predictions or the loss diverged at `step`; no checkpoint was written over the last.
    case diverged(reason: String, step: Int, learningRate: Float)
    /// The loss stayed non-finite after `rollbacks` rollbacks; the last checkpoint is intact.
    case rollbacksExhausted(reason: String, rollbacks: Int)
    /// A checkpoint (at `path`, or an architecture given as text when nil) whose model cannot
    /// serve this use.
    case unsuitableCheckpoint(path: String?, message: String)
    /// A snapshot folder or image (`path`) that cannot be written.
    case snapshotsUnwritable(path: String, message: String)

    public var description: String {
        switch self {
        case let .invalidSetting(_, message), let .conflictingOptions(message), let .actionMismatch(message):
            message
        case let .overBudget(planned, budget, breakdown):
            "the live-learning plan needs \(formatBytes(planned)) but the budget is \(formatBytes(budget)):\n\(breakdown)\n"
                + "shrink --replay, --batch or the frame size"
        case let .sourceStalled(source, seconds):
            "\(source) delivered no frame for \(String(format: "%g", seconds)) s; stopped (a slower source needs a longer --stall-timeout)"
        case let .diverged(reason, step, learningRate):
            "\(reason) at step \(step): learning diverged (is --learning-rate \(learningRate) too high?); "
                + "stopped without writing the checkpoint (the last one is intact)"
        case let .rollbacksExhausted(reason, rollbacks):
            "\(reason) again after \(rollbacks) rollbacks; stopping (the last checkpoint is intact)"
        case let .unsuitableCheckpoint(path?, message):
            "\(path) \(message)"
        case let .unsuitableCheckpoint(nil, message):
            message
        case let .snapshotsUnwritable(path, message):
            "snapshots: \(path) \(message)"
        }
    }
}
