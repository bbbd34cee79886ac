// The trainable parameters a learner shares with a federation (`--fleet`), handed between the
// learner's thread and a federation client's without stopping learning: the client leaves the
// next global arrays here and asks for copies of the parameters; the learner adopts and copies
// at a step boundary, into memory sized once. Not the federation protocol (ForesightFleet).
//
// Learning goes on while a round is in flight, so by the time a new average arrives the learner
// has moved on from the copy it sent. Adopting the average relative to that copy keeps those
// steps: parameters += average - copy sent. Right after a reply this is the average itself
// (FedAvg's usual adoption); later, the average plus what was learned since the reply, which
// the next reply then brings into the federation instead of it being thrown away.

import ForesightCore

/// Parameters exchanged between a learner and a federation client.
///
/// ```swift
/// let exchange = FleetExchange(parameters: program.parameters.map(program.tensor), examplesPerStep: batch)
/// // learner thread, between two steps:
/// exchange.stepBoundary(steps: stepsDone)
/// // client thread:
/// exchange.offer(global, relativeToSnapshot: false)   // adopted at the next boundary
/// exchange.requestSnapshot()                   // copied at the next boundary
/// if let steps = exchange.takeSnapshot(into: reply) { ... }
/// ```
public final class FleetExchange: @unchecked Sendable {
    /// The exchanged arrays: the learner's parameter tensors, in order, with their names and shapes.
    public let names: [String]
    public let shapes: [[Int]]
    public let totalCount: Int
    /// Examples a training step learns from (the batch), which weigh a reply in FedAvg.
    public let examplesPerStep: Int
    private let tensors: [Tensor]
    /// The next global arrays, flat in tensor order [totalCount], and the learner's copy for the client.
    private let global: UnsafeMutableBufferPointer<Float>
    private let snapshot: UnsafeMutableBufferPointer<Float>
    private let state = Locked(State())

    /// What the two sides know of each other.
    public struct State: Sendable {
        /// Global arrays wait in `global` for the next step boundary; adopted relative to the
        /// last copy handed to the client (see the file's header), or as they are.
        public var globalWaiting = false
        public var relativeToSnapshot = false
        /// The client asked for a copy of the parameters; `snapshotSteps` is the step count it was taken at.
        public var snapshotWanted = false
        public var snapshotSteps: Int?
        /// Steps done, as of the last boundary, and at the last adoption of global arrays.
        public var steps = 0
        public var adoptedAtStep = 0
        public var adoptions = 0
        /// The learner stopped: nothing is adopted or copied any more, and its parameters hold still.
        public var closed = false
    }

    public init(parameters: [Tensor], examplesPerStep: Int) {
        precondition(parameters.allSatisfy { $0.dtype == .float32 }, "only float32 parameters are exchanged")
        precondition(Set(parameters.map(\.name)).count == parameters.count, "parameter names must be unique")
        tensors = parameters
        names = parameters.map(\.name)
        shapes = parameters.map { $0.shape.dims }
        totalCount = parameters.reduce(0) { $0 + $1.count }
        self.examplesPerStep = examplesPerStep
        global = .allocate(capacity: max(totalCount, 1))
        snapshot = .allocate(capacity: max(totalCount, 1))
        global.initialize(repeating: 0)
        snapshot.initialize(repeating: 0)
    }

    deinit {
        global.deallocate()
        snapshot.deallocate()
    }

    public var status: State { state.withLock { $0 } }

    // MARK: the learner's side

    /// Called by the learner between two training steps with the steps done so far: adopts
    /// waiting global arrays into the parameters and copies the parameters for the client when
    /// it asked. Allocates nothing; copies only when there is something to hand over.
    /// Returns the averages adopted so far.
    @discardableResult
    public func stepBoundary(steps: Int) -> Int {
        state.withLock { state in
            guard !state.closed else { return state.adoptions }
            state.steps = steps
            if state.globalWaiting {
                var offset = 0
                for tensor in tensors {
                    let parameters = tensor.floatPointer, average = global.baseAddress! + offset
                    if state.relativeToSnapshot {
                        let sent = snapshot.baseAddress! + offset
                        for i in 0..<tensor.count { parameters[i] += average[i] - sent[i] }
                    } else {
                        parameters.update(from: average, count: tensor.count)
                    }
                    offset += tensor.count
                }
                state.globalWaiting = false
                state.adoptedAtStep = steps
                state.adoptions += 1
            }
            if state.snapshotWanted {
                copyParameters(into: snapshot.baseAddress!)
                state.snapshotWanted = false
                state.snapshotSteps = steps
            }
            return state.adoptions
        }
    }

    /// The learner has stopped: waiting clients go on with the parameters as they are.
    public func close() { state.withLock { $0.closed = true } }

    private func copyParameters(into destination: UnsafeMutablePointer<Float>) {
        var offset = 0
        for tensor in tensors {
            (destination + offset).update(from: tensor.floatPointer, count: tensor.count)
            offset += tensor.count
        }
    }

    // MARK: the client's side

    /// Leaves `values` (flat, in tensor order) to be adopted at the learner's next step
    /// boundary: relative to the last copy taken (`takeSnapshot`), which must be the one the
    /// federation averaged, or, with `relativeToSnapshot` false, as they are.
    public func offer(_ values: UnsafeBufferPointer<Float>, relativeToSnapshot: Bool) {
        precondition(values.count == totalCount, "\(values.count) values offered for \(totalCount) parameters")
        state.withLock { state in
            global.baseAddress!.update(from: values.baseAddress!, count: totalCount)
            state.globalWaiting = !state.closed
            state.relativeToSnapshot = relativeToSnapshot
        }
    }

    /// Asks for a copy of the parameters at the next step boundary.
    public func requestSnapshot() {
        state.withLock {
            $0.snapshotSteps = nil
            $0.snapshotWanted = true
        }
    }

    /// Copies the parameters the learner handed over into `destination` and returns the step
    /// count they were taken at; nil while the learner has not reached a boundary since the
    /// request. Once the learner has stopped, its parameters are copied as they are.
    public func takeSnapshot(into destination: UnsafeMutableBufferPointer<Float>) -> Int? {
        precondition(destination.count == totalCount, "room for \(destination.count) values, \(totalCount) parameters")
        return state.withLock { state in
            if state.closed {
                copyParameters(into: destination.baseAddress!)
                return state.steps
            }
            guard let steps = state.snapshotSteps else { return nil }
            destination.baseAddress!.update(from: snapshot.baseAddress!, count: totalCount)
            return steps
        }
    }
}
