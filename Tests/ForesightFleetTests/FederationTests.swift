// Foresight nodes in a real Flower federation: Flower's SuperLink and the repository's ServerApp
// (FedAvg) on loopback, and FleetClients that join it over gRPC. Two nodes with known arrays and
// known example counts: the average the server computes, and sends back, is their weighted mean.

import Foundation
import XCTest
import ForesightCore
import ForesightTestSupport
@testable import ForesightFleet

/// A node whose "learning" in round r sets every value to `value + r` and counts `examples`
/// examples; it records each global it is given.
final class ConstantNode: FleetNode, @unchecked Sendable {
    static let standardLayout = [FleetArraySpec(name: "encoder.weight", shape: [2, 3]), FleetArraySpec(name: "encoder.bias", shape: [3])]
    let layout: [FleetArraySpec]
    let value: Float
    let examples: Int
    let seen = Locked<[(kind: String, round: Int, steps: Int?, values: [Float])]>([])

    init(value: Float, examples: Int, layout: [FleetArraySpec] = ConstantNode.standardLayout) {
        self.value = value
        self.examples = examples
        self.layout = layout
    }

    func train(global: FleetArrays?, round: FleetRound, reply: FleetArrays) async throws -> FleetTrainResult {
        if let global { seen.withLock { $0.append(("train", round.number, round.localSteps, Array(global.storage))) } }
        reply.storage.update(repeating: value + Float(round.number))
        return FleetTrainResult(examples: examples, metrics: [("loss", .real(Double(value)))])
    }

    func evaluate(global: FleetArrays?, round: FleetRound) async throws -> [(String, FleetMetric)] {
        if let global { seen.withLock { $0.append(("evaluate", round.number, nil, Array(global.storage))) } }
        return [("num-examples", .integer(Int64(examples)))]
    }

    func current(into arrays: FleetArrays) async throws {
        arrays.storage.update(repeating: -value)
    }
}

/// Clients for `nodes` (settings made by `configure` for each index) that answer `server` until
/// its run ends (at most 120 s, and it must end well); their clients and what each was told.
func runUntilTheServerEnds(_ nodes: [ConstantNode], server: FlowerServer,
                           configure: (Int, inout FleetSettings) -> Void = { _, _ in }) async throws -> ([FleetClient], [[String]]) {
    let notices = nodes.map { _ in Locked<[String]>([]) }
    let stop = Locked(false)
    var clients: [FleetClient] = []
    for (index, node) in nodes.enumerated() {
        var settings = try FleetSettings(address: server.fleetAddress)
        settings.pollSeconds = 0.1
        configure(index, &settings)
        let heard = notices[index]
        clients.append(try FleetClient(settings: settings, node: node) { line in heard.withLock { $0.append(line) } })
    }
    let tasks = clients.map { client in Task { await client.run { stop.withLock { $0 } } } }
    let status = server.wait(seconds: 120)
    stop.withLock { $0 = true }
    for task in tasks { await task.value }
    XCTAssertEqual(status, 0, server.log)
    return (clients, notices.map { $0.withLock { $0 } })
}

final class FederationTests: XCTestCase {
    /// Two constant nodes through two rounds of `strategy`; the nodes, their clients and the server.
    func federate(_ strategy: [String]) async throws -> (nodes: [ConstantNode], clients: [FleetClient], server: FlowerServer, notices: [String]) {
        try FlowerServer.requireFlower()
        let folder = try makeTemporaryFolder("fleet")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let server = try FlowerServer(["--clients", "2", "--rounds", "2", "--local-steps", "5", "--round-timeout", "60"] + strategy, folder: folder)
        addTeardownBlock { server.stop() }

        let nodes = [ConstantNode(value: 1, examples: 1), ConstantNode(value: 3, examples: 3)]
        let (clients, notices) = try await runUntilTheServerEnds(nodes, server: server)
        return (nodes, clients, server, notices.flatMap { $0 })
    }

    func testTwoNodesAreAveragedByFedAvg() async throws {
        let (nodes, clients, server, notices) = try await federate([])
        // Round r averages 1 + r (1 example) and 3 + r (3 examples): 3.5, then 4.5.
        let arrays = try XCTUnwrap(server.result()["arrays"] as? [String: [String: Any]], server.log)
        XCTAssertEqual(Set(arrays.keys), ["encoder.weight", "encoder.bias"])
        XCTAssertEqual(arrays["encoder.weight"]?["shape"] as? [Int], [2, 3])
        XCTAssertEqual(arrays["encoder.weight"]?["dtype"] as? String, "float32")
        for (_, array) in arrays { XCTAssertEqual(array["values"] as? [Double], [Double](repeating: 4.5, count: (array["shape"] as! [Int]).reduce(1, *))) }
        for (index, node) in nodes.enumerated() {
            let seen = node.seen.withLock { $0 }
            // Round 1 trains from the queried node's arrays (-1 or -3), round 2 from round 1's
            // average; after the last round an evaluate message brings the final average.
            XCTAssertEqual(seen.map(\.kind), ["train", "train", "evaluate"], "node \(index): \(seen)")
            XCTAssertTrue(seen[0].values == [Float](repeating: -1, count: 9) || seen[0].values == [Float](repeating: -3, count: 9), "\(seen[0])")
            XCTAssertEqual(seen[0].steps, 5, "local-steps travels in the train config")
            XCTAssertEqual(seen[1].values, [Float](repeating: 3.5, count: 9))
            XCTAssertEqual(seen[2].values, [Float](repeating: 4.5, count: 9))
            let statistics = clients[index].statistics
            XCTAssertEqual(statistics.trainRounds, 2)
            XCTAssertEqual(statistics.evaluations, 1)
            XCTAssertEqual(statistics.refused, 0)
            XCTAssertGreaterThan(statistics.lastTrainBytesSent, 36, "the reply's arrays were pushed")
        }
        XCTAssertTrue(notices.contains { $0.hasPrefix("joined the Flower federation at \(server.fleetAddress)") })
        XCTAssertEqual(server.leftovers, [], "serve.py ended and left Flower's processes behind")
    }

    /// `serve.py --strategy fedavgm`: the server steps from its global model along a momentum of
    /// the averages' moves (Flower's FedAvgM, learning rate 1). From the starting arrays g0 with
    /// momentum 0.5: round 1 gives the average 3.5; round 2 moves by -(4.5 - 3.5) plus half of
    /// round 1's move (3.5 - g0), to 6.25 - g0 / 2, not FedAvg's 4.5.
    func testFedAvgMAddsTheServerMomentum() async throws {
        let (nodes, _, server, _) = try await federate(["--strategy", "fedavgm", "--server-momentum", "0.5"])
        XCTAssertTrue(server.log.contains("Server Momentum: 0.5"), server.log)
        let seen = nodes[0].seen.withLock { $0 }
        XCTAssertEqual(seen.map(\.kind), ["train", "train", "evaluate"], "\(seen)")
        let start = try XCTUnwrap(seen.first?.values.first)
        XCTAssertTrue(start == -1 || start == -3, "the starting arrays are a node's: \(start)")
        XCTAssertEqual(seen[1].values, [Float](repeating: 3.5, count: 9), "the first round has no momentum yet")
        let expected = 6.25 - Double(start) / 2
        for value in seen[2].values { XCTAssertEqual(Double(value), expected, accuracy: 1e-5) }
        let arrays = try XCTUnwrap(server.result()["arrays"] as? [String: [String: Any]], server.log)
        for (_, array) in arrays {
            for value in try XCTUnwrap(array["values"] as? [Double]) { XCTAssertEqual(value, expected, accuracy: 1e-5) }
        }
        XCTAssertEqual(nodes[1].seen.withLock { $0 }.last?.values, seen[2].values, "both robots get the same final model")
    }
}

final class RefusalTests: XCTestCase {
    /// Two nodes whose models differ (another shape of one array): whichever node's arrays
    /// start the federation, the other refuses every train message with an error reply that
    /// names the array, its model is never touched, and the server's rounds go on.
    func testAMismatchedModelIsRefusedOverTheWire() async throws {
        try FlowerServer.requireFlower()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try FlowerServer(["--clients", "2", "--rounds", "2", "--local-steps", "1", "--round-timeout", "60"], folder: folder)
        defer { server.stop() }
        let other = [FleetArraySpec(name: "encoder.weight", shape: [3, 2]), FleetArraySpec(name: "encoder.bias", shape: [3])]
        let nodes = [ConstantNode(value: 1, examples: 1), ConstantNode(value: 2, examples: 1, layout: other)]
        let stop = Locked(false)
        let clients = try nodes.map { node in
            var settings = try FleetSettings(address: server.fleetAddress)
            settings.pollSeconds = 0.1
            return try FleetClient(settings: settings, node: node)
        }
        let tasks = clients.map { client in Task { await client.run { stop.withLock { $0 } } } }
        let status = server.wait(seconds: 120)
        stop.withLock { $0 = true }
        for task in tasks { await task.value }
        XCTAssertEqual(status, 0, server.log)
        let refusing = try XCTUnwrap(clients.firstIndex { $0.statistics.refused > 0 }, "neither node refused: \(server.log)")
        let statistics = clients[refusing].statistics
        XCTAssertEqual(statistics.refused, 3, "two train messages and the final average")
        XCTAssertEqual(statistics.trainRounds, 0)
        XCTAssertTrue(statistics.lastRefusal?.contains("array encoder.weight has shape") == true, statistics.lastRefusal ?? "")
        XCTAssertTrue(nodes[refusing].seen.withLock { $0 }.isEmpty, "the refusing node's model was never handed arrays")
        XCTAssertEqual(clients[1 - refusing].statistics.trainRounds, 2)
        XCTAssertTrue(server.log.contains("Received 1 results and 1 failures"), server.log)
        XCTAssertTrue(server.log.contains("parameters refused: array encoder.weight has shape"), server.log)
    }
}

final class ReconnectionTests: XCTestCase {
    /// A free TCP port on 127.0.0.1.
    func freePort() throws -> Int {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A node started before its server: it says once that it cannot reach it, retries with
    /// growing waits, joins when the server comes, and takes part in its rounds.
    func testANodeWaitsForItsServerAndSaysSoOnce() async throws {
        try FlowerServer.requireFlower()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let address = "127.0.0.1:\(try freePort())"
        var settings = try FleetSettings(address: address)
        settings.pollSeconds = 0.1
        settings.maximumRetrySeconds = 2
        let notices = Locked<[String]>([])
        let stop = Locked(false)
        let node = ConstantNode(value: 1, examples: 1)
        let client = try FleetClient(settings: settings, node: node) { line in notices.withLock { $0.append(line) } }
        let task = Task { await client.run { stop.withLock { $0 } } }
        try await Task.sleep(for: .seconds(6))   // attempts after 1, 2, 2, ... s
        XCTAssertEqual(notices.withLock { $0 }.count, 1, "\(notices.withLock { $0 })")
        XCTAssertTrue(notices.withLock { $0 }.first?.hasPrefix("cannot reach the Flower server at \(address)") == true, "\(notices.withLock { $0 })")

        let server = try FlowerServer(["--clients", "1", "--rounds", "2", "--local-steps", "1", "--round-timeout", "60"], folder: folder, fleet: address)
        defer { server.stop() }
        let status = server.wait(seconds: 120)
        stop.withLock { $0 = true }
        await task.value
        XCTAssertEqual(status, 0, server.log)
        let lines = notices.withLock { $0 }
        XCTAssertTrue(lines.contains { $0.hasPrefix("the Flower server at \(address) answers again; rejoined as node") }, "\(lines)")
        XCTAssertEqual(client.statistics.trainRounds, 2)
    }
}

final class FleetTLSTests: XCTestCase {
    /// A SuperLink that speaks TLS (serve.py --ssl-*): nodes that trust its authority join and
    /// are averaged; a node that trusts another authority, and a node that speaks plaintext,
    /// never join and say why, once.
    func testNodesJoinOverTLSOnlyWhenTheyTrustTheServer() async throws {
        try FlowerServer.requireFlower()
        let folder = try makeTemporaryFolder("fleet-tls")
        defer { try? FileManager.default.removeItem(at: folder) }
        let trusted = try FlowerServer.makeCertificates(in: folder, name: "fleet")
        let stranger = try FlowerServer.makeCertificates(in: folder, name: "stranger")
        let server = try FlowerServer(["--clients", "2", "--rounds", "1", "--local-steps", "5", "--round-timeout", "60",
                                       "--ssl-certfile", trusted.certificate, "--ssl-keyfile", trusted.key, "--ssl-ca-certfile", trusted.authority],
                                      folder: folder)
        defer { server.stop() }
        XCTAssertTrue(server.log.contains("(TLS)"), server.log)

        let nodes = [ConstantNode(value: 1, examples: 1), ConstantNode(value: 3, examples: 3), ConstantNode(value: 7, examples: 7), ConstantNode(value: 9, examples: 9)]
        let roots = [trusted.authority, trusted.authority, stranger.authority, nil]
        let (clients, notices) = try await runUntilTheServerEnds(nodes, server: server) { index, settings in settings.rootCertificatesPath = roots[index] }

        XCTAssertEqual(server.leftovers, [], "serve.py ended and left Flower's processes behind")
        // The two trusting nodes: one round of FedAvg over 2 (1 example) and 4 (3 examples).
        for index in 0..<2 {
            XCTAssertEqual(clients[index].statistics.trainRounds, 1, "node \(index)")
            XCTAssertEqual(nodes[index].seen.withLock { $0 }.last?.values, [Float](repeating: 3.5, count: 9), "node \(index)")
            XCTAssertTrue(notices[index].contains { $0.hasPrefix("joined the Flower federation") }, "node \(index): \(notices[index])")
        }
        for index in 2..<4 {
            let heard = notices[index]
            XCTAssertEqual(clients[index].statistics.sessions, 0, "node \(index) joined: \(heard)")
            XCTAssertEqual(clients[index].statistics.trainRounds, 0, "node \(index)")
            XCTAssertEqual(heard.count, 1, "said once, not at every retry: \(heard)")
            XCTAssertTrue(heard.first?.contains(index == 2 ? "not signed by the root certificates given" : "needs the node to be given its root certificates") ?? false,
                          "node \(index) says why: \(heard)")
            XCTAssertTrue(heard.first?.contains(server.fleetAddress) ?? false, "\(heard)")
        }
    }

    /// A root-certificates file that is missing or holds no certificate is refused before the
    /// node starts, naming the file.
    func testUnusableRootCertificatesAreRefusedAtOnce() throws {
        let folder = try makeTemporaryFolder("fleet-tls")
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty.pem").path
        FileManager.default.createFile(atPath: empty, contents: Data("not a certificate\n".utf8))
        for (path, reason) in [(folder.appendingPathComponent("missing.pem").path, "cannot be read"), (empty, "no PEM certificate")] {
            var settings = try FleetSettings(address: "127.0.0.1:9092")
            settings.rootCertificatesPath = path
            XCTAssertThrowsError(try FleetClient(settings: settings, node: ConstantNode(value: 1, examples: 1))) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(reason), "\(error)")
            }
        }
    }
}
