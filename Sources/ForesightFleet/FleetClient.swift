// A node of a Flower federation, over the Fleet API (gRPC, flwr 1.39): registers and activates
// itself, sends heartbeats, pulls each message and then every object of its tree, hands a
// train, evaluate or query message to its `FleetNode`, and pushes the reply the same way.
// A server that goes away is retried with growing waits and told of once. Not a ClientApp
// runner: the node's learning is the caller's, reached through `FleetNode`.

import Foundation
import ForesightCore
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

/// Whether `text` is a dotted IPv4 address ("127.0.0.1").
private func IPv4Address(_ text: String) -> [UInt8]? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    let bytes = parts.compactMap { part in part.allSatisfy(\.isNumber) && part.count <= 3 ? UInt8(part) : nil }
    return bytes.count == 4 ? bytes : nil
}

/// Where and how a node joins its federation.
public struct FleetSettings: Sendable {
    /// The SuperLink's Fleet API, "HOST:PORT" (flower-superlink's --fleet-api-address, 9092 by default).
    public var host: String
    public var port: Int
    /// The heartbeat interval the node declares (Flower allows 10 to 1800 s); heartbeats go out
    /// at 0.7 of it. Short, so that a robot that died is soon left out of the rounds.
    public var heartbeatSeconds: Double = 10
    /// The longest wait between two pulls that found no message: after a message the node
    /// asks again after 0.1 s, then waits twice as long each time up to this (Flower's own
    /// SuperNode waits 3 s), so a fleet of idle robots does not swamp the server.
    public var pollSeconds: Double = 3
    /// How replies carry their arrays (received arrays may be any float type).
    public var element: Npy.Element = .float32
    /// A PEM file that keeps the node's key (made if missing); nil: a new key each run.
    public var keyPath: String?
    /// Longest wait for one call.
    public var callSeconds: Double = 60
    /// Longest wait between two attempts to reach a server that went away.
    public var maximumRetrySeconds: Double = 30
    /// A PEM file of the certificates that vouch for the SuperLink (its --ssl-ca-certfile):
    /// the node then speaks TLS and checks the server's certificate against them and against
    /// the host it dials. Nil: plaintext, for a SuperLink started with --insecure.
    public var rootCertificatesPath: String? {
        didSet { rootCertificates = nil }
    }
    /// The certificates read from `rootCertificatesPath` by `checkRootCertificates()`.
    var rootCertificates: [UInt8]?

    /// "HOST:PORT" or "[IPv6]:PORT".
    public init(address: String) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw FleetError.malformed("Fleet address \(address): give HOST:PORT, for example 127.0.0.1:9092")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw FleetError.malformed("Fleet address \(address): the host is missing") }
        self.host = host
        self.port = port
    }

    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reads `rootCertificatesPath` now, so that a missing or unreadable file, or one without a
    /// PEM certificate, is said before the node starts (not as a server that cannot be reached).
    public mutating func checkRootCertificates() throws {
        guard let path = rootCertificatesPath else { return }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FleetError.malformed("root certificates \(path): the file cannot be read")
        }
        guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            throw FleetError.malformed("root certificates \(path): no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
        }
        rootCertificates = Array(data)
    }

    /// An address, or a name to look up. (Over TLS a name is also the server name the
    /// certificate must carry; an address is checked against the certificate's IP addresses.)
    var target: any ResolvableTarget {
        if IPv4Address(host) != nil { return .ipv4(host: host, port: port) }
        if host.contains(":") { return .ipv6(host: host, port: port) }
        return .dns(host: host, port: port)
    }

    /// Plaintext, or TLS that trusts only the root certificates given.
    var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        guard let rootCertificates else { return .plaintext }
        return .tls { $0.trustRoots = .certificates([.bytes(rootCertificates, format: .pem)]) }
    }
}

/// What a train message asks of a node and what it answers.
public struct FleetTrainResult: Sendable {
    /// Examples learned from since the global arrays were adopted (Flower's "num-examples", FedAvg's weight).
    public var examples: Int
    /// Further metrics of the reply (the same names every round).
    public var metrics: [(String, FleetMetric)]

    public init(examples: Int, metrics: [(String, FleetMetric)] = []) {
        self.examples = examples
        self.metrics = metrics
    }
}

/// Which round a message belongs to and what its config asks.
public struct FleetRound: Sendable, Equatable {
    /// The server's round ("server-round"; 0 when the message does not say).
    public var number: Int
    /// Training steps to take on the global arrays before replying ("local-steps"; nil: the node's own choice).
    public var localSteps: Int?

    public init(number: Int, localSteps: Int? = nil) {
        self.number = number
        self.localSteps = localSteps
    }
}

/// The learner behind a node. Called on the client's task, one message at a time.
public protocol FleetNode: AnyObject, Sendable {
    /// The arrays exchanged: names and shapes, fixed for the node's life.
    var layout: [FleetArraySpec] { get }
    /// A train message: adopt `global` (nil: the same arrays as the last message, already
    /// given), learn, and write the arrays learned into `reply`.
    func train(global: FleetArrays?, round: FleetRound, reply: FleetArrays) async throws -> FleetTrainResult
    /// An evaluate message: adopt `global` (nil: unchanged) and report metrics, "num-examples" among them.
    func evaluate(global: FleetArrays?, round: FleetRound) async throws -> [(String, FleetMetric)]
    /// A query message: the node's current arrays into `arrays` (how the server learns its starting point).
    func current(into arrays: FleetArrays) async throws
}

/// What a client has done so far.
public struct FleetStatistics: Sendable {
    public var nodeID: UInt64 = 0
    /// Replies to train, evaluate and query messages, and messages refused.
    public var trainRounds = 0
    public var evaluations = 0
    public var queries = 0
    public var refused = 0
    /// The last refusal, as sent to the server.
    public var lastRefusal: String?
    /// Object bytes pulled and pushed in all, and in the last train round.
    public var bytesReceived = 0
    public var bytesSent = 0
    public var lastTrainBytesReceived = 0
    public var lastTrainBytesSent = 0
    /// Times the node joined the federation (1 + reconnections after the server went away).
    public var sessions = 0
}

/// A Flower node speaking the Fleet API.
///
/// ```swift
/// let client = try FleetClient(settings: FleetSettings(address: "127.0.0.1:9092"), node: learner) { print($0) }
/// try await client.run { stopRequested }
/// ```
public final class FleetClient: Sendable {
    public let settings: FleetSettings
    let node: any FleetNode
    let identity: NodeIdentity
    let notice: @Sendable (String) -> Void
    /// What arrives, checked before the node sees it, and what the node replies: sized once.
    let incoming: FleetArrays
    let outgoing: FleetArrays
    private let state = Locked(State())

    struct State {
        var statistics = FleetStatistics()
        /// The ArrayRecord whose arrays `incoming` holds (nil: none, or a read that failed).
        var incomingRecord: String?
    }

    public init(settings: FleetSettings, node: any FleetNode, notice: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.node = node
        self.notice = notice
        var settings = settings
        try settings.checkRootCertificates()
        self.settings = settings
        identity = try settings.keyPath.map { try NodeIdentity(keptIn: $0) } ?? NodeIdentity()
        incoming = FleetArrays(layout: node.layout)
        outgoing = FleetArrays(layout: node.layout)
    }

    public var statistics: FleetStatistics { state.withLock { $0.statistics } }

    /// Joins the federation and answers its messages until `shouldStop` says so, then leaves it.
    /// A server that cannot be reached, or that drops the node, is tried again after 1, 2, 4 ...
    /// seconds (at most `maximumRetrySeconds`); `notice` hears of it once, and once when it is back.
    public func run(until shouldStop: @escaping @Sendable () -> Bool) async {
        var wait = 1.0
        var trouble: String?
        while !shouldStop() && !Task.isCancelled {
            do {
                let transport = try HTTP2ClientTransport.Posix(target: settings.target, transportSecurity: settings.transportSecurity)
                try await withGRPCClient(transport: transport) { grpc in
                    let fleet = Flwr_Proto_Fleet.Client(wrapping: grpc)
                    let nodeID = try await join(fleet)
                    notice(trouble == nil ? "joined the Flower federation at \(settings.address) as node \(nodeID)"
                                          : "the Flower server at \(settings.address) answers again; rejoined as node \(nodeID)")
                    trouble = nil
                    wait = 1
                    try await serve(fleet, nodeID: nodeID, shouldStop: shouldStop)
                    try? await leave(fleet, nodeID: nodeID)
                }
            } catch {
                var reason = Self.reason(error)
                if settings.rootCertificates == nil && reason.contains("connection preface") {
                    reason += "; a SuperLink that speaks TLS needs the node to be given its root certificates"
                } else if reason.contains("CERTIFICATE_VERIFY_FAILED") {
                    reason += "; the server's certificate is not signed by the root certificates given, or does not name \(settings.host)"
                }
                if trouble == nil {
                    let unreachable = (error as? RPCError).map { $0.code == .unavailable || $0.code == .deadlineExceeded } ?? false
                    notice((unreachable ? "cannot reach the Flower server at \(settings.address)" : "the session with the Flower server at \(settings.address) failed")
                           + " (\(reason)); trying again with growing waits (at most \(Int(settings.maximumRetrySeconds)) s) while learning goes on locally")
                }
                trouble = reason
                let until = Date().addingTimeInterval(wait)
                while Date() < until && !shouldStop() && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(100)) }
                wait = min(wait * 2, settings.maximumRetrySeconds)
            }
        }
    }

    /// A short reason for a failed call.
    static func reason(_ error: any Error) -> String {
        if let error = error as? RPCError {
            // The cause says what the message does not: a refused connection, a certificate not trusted.
            var message = error.message
            var cause = error.cause
            while let inner = cause {
                if let wrapped = inner as? RPCError { message += " (\(wrapped.message))"; cause = wrapped.cause; continue }
                message += " (\(inner))"
                break
            }
            if message.count > 300 { message = String(message.prefix(300)) + "..." }
            return "\(error.code): \(message)"
        }
        return "\(error)"
    }

    private var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(settings.callSeconds * 1000))
        options.waitForReady = false
        return options
    }

    /// Registers the node's key (a key the server already knows is fine) and activates it.
    private func join(_ fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>) async throws -> UInt64 {
        var register = Flwr_Proto_RegisterNodeFleetRequest()
        register.publicKey = Data(identity.publicKeyPEM)
        do { _ = try await fleet.registerNode(register, metadata: identity.callMetadata(), options: options) } catch let error as RPCError where error.code != .unavailable && error.code != .deadlineExceeded {
            // Already registered (a rejoin to the same server): activation tells whether it is known.
        }
        var activate = Flwr_Proto_ActivateNodeRequest()
        activate.publicKey = Data(identity.publicKeyPEM)
        activate.heartbeatInterval = settings.heartbeatSeconds
        let nodeID = try await fleet.activateNode(activate, metadata: identity.callMetadata(), options: options).nodeID
        state.withLock {
            $0.statistics.nodeID = nodeID
            $0.statistics.sessions += 1
        }
        return nodeID
    }

    private func leave(_ fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>, nodeID: UInt64) async throws {
        var deactivate = Flwr_Proto_DeactivateNodeRequest()
        deactivate.nodeID = nodeID
        _ = try await fleet.deactivateNode(deactivate, metadata: identity.callMetadata(), options: options)
        var unregister = Flwr_Proto_UnregisterNodeFleetRequest()
        unregister.nodeID = nodeID
        _ = try await fleet.unregisterNode(unregister, metadata: identity.callMetadata(), options: options)
    }

    /// Heartbeats beside the message loop, until a stop or a failed call.
    private func serve(_ fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>, nodeID: UInt64, shouldStop: @escaping @Sendable () -> Bool) async throws {
        let node = Flwr_Proto_Node.with { $0.nodeID = nodeID }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var beat = Flwr_Proto_SendNodeHeartbeatRequest()
                beat.node = node
                beat.heartbeatInterval = self.settings.heartbeatSeconds
                while !shouldStop() {
                    try await Task.sleep(for: .milliseconds(Int64(self.settings.heartbeatSeconds * 700)))
                    let answer = try await fleet.sendNodeHeartbeat(beat, metadata: self.identity.callMetadata(), options: self.options)
                    guard answer.success else { throw FleetError.protocolViolation("the server no longer knows node \(nodeID)") }
                }
            }
            group.addTask {
                var pull = Flwr_Proto_PullMessagesRequest()
                pull.node = node
                var wait = 0.1
                while !shouldStop() {
                    let response = try await fleet.pullMessages(pull, metadata: self.identity.callMetadata(), options: self.options)
                    if let message = response.messagesList.first, let tree = response.messageObjectTrees.first {
                        try await self.handle(message, tree: tree, node: node, fleet: fleet)
                        wait = 0.1
                    } else {
                        let seconds = min(wait, self.settings.pollSeconds)
                        let until = Date().addingTimeInterval(seconds)
                        while Date() < until && !shouldStop() { try await Task.sleep(for: .milliseconds(Int64(min(100, seconds * 1000)))) }
                        wait *= 2
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Pulls the objects of one message, answers it, pushes the reply.
    private func handle(_ message: Flwr_Proto_Message, tree: Flwr_Proto_ObjectTree, node: Flwr_Proto_Node,
                        fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>) async throws {
        let started = Date()
        let metadata = message.metadata
        var objects: [String: FlowerObject] = [:]
        var received = 0
        var content: FlowerObject?, refusal: String?
        do {
            for id in ObjectBundle.postOrder(tree) where objects[id] == nil {
                let bytes = try await pullObject(id, runID: metadata.runID, node: node, fleet: fleet)
                received += bytes.count
                objects[id] = try FlowerObject(content: bytes, expectedID: id)
            }
            var confirm = Flwr_Proto_ConfirmMessageReceivedRequest()
            confirm.node = node
            confirm.runID = metadata.runID
            confirm.messageObjectID = metadata.messageID
            _ = try await fleet.confirmMessageReceived(confirm, metadata: identity.callMetadata(), options: options)
            let pulled = try PulledMessage(tree: tree, objects: objects, metadata: metadata)
            var bundle = ObjectBundle()
            content = try await answer(pulled, into: &bundle)
            objects = bundle.objects
        } catch let error as FleetError {
            refusal = error.description
            notice("refused a \(metadata.messageType) message of round \(metadata.groupID): \(error.description); the local model is unchanged")
        }
        let sent = try await reply(to: metadata, content: content, objects: objects, error: refusal, started: started, node: node, fleet: fleet)
        state.withLock {
            $0.statistics.bytesReceived += received
            $0.statistics.bytesSent += sent
            if let refusal {
                $0.statistics.refused += 1
                $0.statistics.lastRefusal = refusal
                return
            }
            switch metadata.messageType {
            case "train":
                $0.statistics.trainRounds += 1
                $0.statistics.lastTrainBytesReceived = received
                $0.statistics.lastTrainBytesSent = sent
            case "evaluate": $0.statistics.evaluations += 1
            default: $0.statistics.queries += 1   // a message of another type is refused in `answer`
            }
        }
    }

    /// One object's bytes, waiting while the server has it registered but not yet stored.
    private func pullObject(_ id: String, runID: UInt64, node: Flwr_Proto_Node, fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>) async throws -> [UInt8] {
        var request = Flwr_Proto_PullObjectRequest()
        request.node = node
        request.runID = runID
        request.objectID = id
        for _ in 0..<600 {
            let response = try await fleet.pullObject(request, metadata: identity.callMetadata(), options: options)
            guard response.objectFound else { throw FleetError.protocolViolation("the server does not have object \(id) of its message") }
            if response.objectAvailable { return [UInt8](response.objectContent) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FleetError.protocolViolation("object \(id) of the message did not become available within 60 s")
    }

    /// The content of the reply to `message` (its objects added to `bundle`); throws a
    /// `FleetError` for a message that is refused.
    private func answer(_ message: PulledMessage, into bundle: inout ObjectBundle) async throws -> FlowerObject {
        if let error = message.error { throw FleetError.protocolViolation("the message carries an error instead of content: \(error.reason)") }
        let config = try message.firstRecord(ofType: "ConfigRecord").map { try message.config($0.object) } ?? [:]
        func integer(_ key: String) -> Int? {
            switch config[key]?.value {
            case let .sint64(value)?: Int(clamping: value)
            case let .uint64(value)?: Int(clamping: value)
            case let .double(value)? where value.isFinite: Int(value)
            default: nil
            }
        }
        let round = FleetRound(number: integer("server-round") ?? 0, localSteps: integer("local-steps").map { max(0, $0) })
        switch message.metadata.messageType {
        case "train":
            guard let (_, record) = message.firstRecord(ofType: "ArrayRecord") else { throw FleetError.mismatched("the train message holds no ArrayRecord") }
            let global = try readGlobal(record, from: message)
            let result = try await node.train(global: global, round: round, reply: outgoing)
            let arrays = ObjectWriter.record("ArrayRecord", outgoing.write(as: settings.element, into: &bundle), into: &bundle)
            let metrics = try ObjectWriter.metricRecord([("num-examples", .integer(Int64(result.examples)))] + result.metrics, into: &bundle)
            return ObjectWriter.record("RecordDict", [("arrays", arrays), ("metrics", metrics)], into: &bundle)
        case "evaluate":
            let global = try message.firstRecord(ofType: "ArrayRecord").flatMap { try readGlobal($0.object, from: message) }
            let metrics = try await node.evaluate(global: global, round: round)
            let record = try ObjectWriter.metricRecord(metrics, into: &bundle)
            return ObjectWriter.record("RecordDict", [("metrics", record)], into: &bundle)
        case "query":
            try await node.current(into: outgoing)
            let arrays = ObjectWriter.record("ArrayRecord", outgoing.write(as: settings.element, into: &bundle), into: &bundle)
            let metrics = try ObjectWriter.metricRecord([("num-examples", .integer(0))], into: &bundle)
            return ObjectWriter.record("RecordDict", [("arrays", arrays), ("metrics", metrics)], into: &bundle)
        default:
            throw FleetError.mismatched("message type \(message.metadata.messageType) is not train, evaluate or query")
        }
    }

    /// The global arrays of `record` in `incoming`, checked; nil when they are the ones it already holds.
    private func readGlobal(_ record: FlowerObject, from message: PulledMessage) throws -> FleetArrays? {
        if state.withLock({ $0.incomingRecord }) == record.id { return nil }
        state.withLock { $0.incomingRecord = nil }
        try incoming.read(message.arrays(of: record))
        state.withLock { $0.incomingRecord = record.id }
        return incoming
    }

    /// Pushes the reply message and the objects the server asks for; returns the bytes sent.
    private func reply(to request: Flwr_Proto_Metadata, content: FlowerObject?, objects: [String: FlowerObject], error refusal: String?, started: Date,
                       node: Flwr_Proto_Node, fleet: Flwr_Proto_Fleet.Client<HTTP2ClientTransport.Posix>) async throws -> Int {
        let now = Date().timeIntervalSince1970
        var metadata = Flwr_Proto_Metadata()
        metadata.runID = request.runID
        metadata.srcNodeID = request.dstNodeID
        metadata.dstNodeID = request.srcNodeID
        metadata.replyToMessageID = request.messageID
        metadata.groupID = request.groupID
        metadata.createdAt = now
        metadata.ttl = max(request.createdAt + request.ttl - now, 0.001)
        metadata.messageType = request.messageType
        if request.hasDstTaskID { metadata.srcTaskID = request.dstTaskID }
        if request.hasSrcTaskID { metadata.dstTaskID = request.srcTaskID }
        var bundle = ObjectBundle(objects: objects)
        var error: Flwr_Proto_Error?
        if let refusal {
            var proto = Flwr_Proto_Error()
            proto.code = 2   // Flower's CLIENT_APP_RAISED_EXCEPTION: the node could not handle the message
            proto.reason = refusal
            error = proto
        }
        let root = try ObjectWriter.message(metadata, content: refusal == nil ? content : nil, error: error, into: &bundle)
        var message = Flwr_Proto_Message()
        message.metadata = metadata
        message.metadata.messageID = root.id
        if let error { message.error = error } else { message.content = Flwr_Proto_RecordDict() }
        var push = Flwr_Proto_PushMessagesRequest()
        push.node = node
        push.messagesList = [message]
        let tree = bundle.tree(of: root.id)
        push.messageObjectTrees = [tree]
        push.clientappRuntimeList = [Date().timeIntervalSince(started)]
        let response = try await fleet.pushMessages(push, metadata: identity.callMetadata(), options: options)
        guard response.results[root.id] == 0 || response.results.isEmpty else {
            throw FleetError.protocolViolation("the server refused the reply to \(request.messageID) (code \(response.results[root.id] ?? 0))")
        }
        let wanted = Set(response.objectsToPush)
        var sent = 0
        for id in ObjectBundle.postOrder(tree) where wanted.contains(id) {
            guard let object = bundle.objects[id] else { continue }
            var request = Flwr_Proto_PushObjectRequest()
            request.node = node
            request.runID = metadata.runID
            request.objectID = id
            request.objectContent = Data(object.content)
            request.sessionID = response.sessionID
            let stored = try await fleet.pushObject(request, metadata: identity.callMetadata(), options: options)
            guard stored.stored else { throw FleetError.protocolViolation("the server did not store object \(id) of the reply") }
            sent += object.content.count
        }
        return sent
    }
}
