// `--fleet`: ForesightFleet's Flower client behind ForesightCommands' `FleetHosting`, and the
// node that answers a round from a learner's `FleetExchange`. Here because it needs both
// modules, and only the executable links gRPC.

import Foundation
import ForesightCommands
import ForesightCore
import ForesightFleet
import ForesightLive

/// Joins federations with `FleetClient`.
struct FlowerFleetHost: FleetHosting {
    func join(_ request: FleetRequest, exchange: FleetExchange, notice: @escaping @Sendable (String) -> Void) throws -> any FleetMembership {
        var settings = try FleetSettings(address: request.address)
        settings.keyPath = request.keyPath
        settings.element = request.halfPrecision ? .float16 : .float32
        settings.rootCertificatesPath = request.rootCertificates
        let node = ExchangeNode(exchange: exchange, defaultLocalSteps: request.localSteps)
        let client = try FleetClient(settings: settings, node: node, notice: notice)
        return FlowerMembership(client: client)
    }
}

/// A client running on a task of its own until `leave()`.
final class FlowerMembership: FleetMembership, @unchecked Sendable {
    let client: FleetClient
    private let stop = Locked(false)
    private let finished = Latch()

    init(client: FleetClient) {
        self.client = client
        Task.detached { [stop, finished] in
            await client.run { stop.withLock { $0 } }
            finished.open()
        }
    }

    func leave() {
        stop.withLock { $0 = true }
        _ = finished.wait(deadline: MonotonicClock.nanoseconds() + 30_000_000_000)
    }

    var summary: String {
        let s = client.statistics
        return "\(s.trainRounds) round(s) trained and \(s.evaluations) average(s) received as node \(s.nodeID); last round \(formatBytes(s.lastTrainBytesReceived)) in, \(formatBytes(s.lastTrainBytesSent)) out"
            + (s.refused > 0 ? "; \(s.refused) message(s) refused, the last: \(s.lastRefusal ?? "")" : "")
            + (s.sessions > 1 ? "; rejoined \(s.sessions - 1) time(s)" : "")
    }
}

/// A round answered by the learner behind a `FleetExchange`: a new average is adopted at the
/// learner's next step boundary (the first as it is, later ones relative to the parameters last
/// sent, keeping what was learned while the round was in flight), the learner takes the round's
/// local steps, and its parameters then are the reply, weighted by the examples learned since
/// the last reply.
final class ExchangeNode: FleetNode, @unchecked Sendable {
    let exchange: FleetExchange
    let defaultLocalSteps: Int
    let layout: [FleetArraySpec]
    /// The step count of the parameters last sent in a train reply (nil: none sent yet).
    private let sentSteps = Locked<Int?>(nil)

    init(exchange: FleetExchange, defaultLocalSteps: Int) {
        self.exchange = exchange
        self.defaultLocalSteps = defaultLocalSteps
        layout = zip(exchange.names, exchange.shapes).map { FleetArraySpec(name: $0, shape: $1) }
    }

    /// Waits (polling every 5 ms) until `done` holds or the learner stopped.
    private func wait(until done: (FleetExchange.State) -> Bool) async throws {
        while true {
            let status = exchange.status
            if status.closed || done(status) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private func adopt(_ global: FleetArrays?) async throws {
        guard let global else { return }
        exchange.offer(UnsafeBufferPointer(global.storage), relativeToSnapshot: sentSteps.withLock { $0 } != nil)
        try await wait { !$0.globalWaiting }
    }

    /// The parameters at the learner's next step boundary; the steps done then.
    private func snapshot(into arrays: FleetArrays) async throws -> Int {
        exchange.requestSnapshot()
        while true {
            if let steps = exchange.takeSnapshot(into: arrays.storage) { return steps }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func train(global: FleetArrays?, round: FleetRound, reply: FleetArrays) async throws -> FleetTrainResult {
        try await adopt(global)
        let target = exchange.status.steps + (round.localSteps ?? defaultLocalSteps)
        try await wait { $0.steps >= target }
        let steps = try await snapshot(into: reply)
        let learned = max(0, steps - (sentSteps.withLock { $0 } ?? exchange.status.adoptedAtStep))
        sentSteps.withLock { $0 = steps }
        return FleetTrainResult(examples: max(1, learned * exchange.examplesPerStep), metrics: [("steps", .integer(Int64(learned)))])
    }

    func evaluate(global: FleetArrays?, round: FleetRound) async throws -> [(String, FleetMetric)] {
        try await adopt(global)
        return [("num-examples", .integer(Int64(exchange.examplesPerStep)))]
    }

    func current(into arrays: FleetArrays) async throws {
        _ = try await snapshot(into: arrays)
    }
}
