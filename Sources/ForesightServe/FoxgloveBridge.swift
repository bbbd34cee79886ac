// The run over Foxglove's WebSocket protocol (`foxglove.websocket.v1`), on the live view's
// port: Foxglove connects to ws://ADDRESS:PORT/ with no plug-in and sees the frame, the
// prediction, the truth and the motion field as foxglove.RawImage, and the run's numbers as
// foresight.Metrics. The server tells who it is (serverInfo), advertises the channels, and
// sends each subscribed channel's newest message as it appears; it sends the next one only
// once the last is written, so a slow viewer is sent fewer messages and never queues more
// than one set. Like every reader, it copies out of the publication and never holds the
// learner up.

import Foundation
import ForesightCore
import ForesightLive
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore

/// One Foxglove WebSocket session on a publication.
struct FoxgloveBridge: Sendable {
    static let subprotocol = "foxglove.websocket.v1"
    let publication: LivePublication
    /// Channel ids: the image topics from 1 (frame, prediction, truth, motion), then the metrics.
    private let imageTopics: [String]
    private let metricsChannel: Int

    init(publication: LivePublication) {
        self.publication = publication
        imageTopics = Array(FoxgloveMessages.imageTopics(publication))
        metricsChannel = imageTopics.count + 1
    }

    /// Whether an upgrade request asks for Foxglove's protocol.
    static func isWanted(_ request: HTTPRequest) -> Bool {
        guard let offered = request.headerFields[.secWebSocketProtocol] else { return false }
        return offered.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == subprotocol }
    }

    func serverInfo() -> String {
        json(["op": "serverInfo", "name": "foresight", "capabilities": [String](), "supportedEncodings": [String](),
              "metadata": ["title": publication.title], "sessionId": "\(getpid())"])
    }

    func advertise() -> String {
        var channels: [[String: Any]] = imageTopics.enumerated().map { index, topic in
            ["id": index + 1, "topic": topic, "encoding": "json", "schemaName": FoxgloveMessages.imageSchemaName,
             "schema": FoxgloveMessages.rawImageSchema, "schemaEncoding": "jsonschema"]
        }
        channels.append(["id": metricsChannel, "topic": FoxgloveMessages.metricsTopic, "encoding": "json",
                         "schemaName": FoxgloveMessages.metricsSchemaName, "schema": FoxgloveMessages.metricsSchema,
                         "schemaEncoding": "jsonschema"])
        return json(["op": "advertise", "channels": channels])
    }

    /// Serves one connection until the viewer leaves or the server stops.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(serverInfo()))
        try await outbound.write(.text(advertise()))
        let subscriptions = Locked([Int: UInt32]())   // channel id -> subscription id
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case let .text(text) = message else { continue }
                    try await handle(text, subscriptions: subscriptions, outbound: outbound)
                }
            }
            group.addTask { try await send(subscriptions: subscriptions, outbound: outbound) }
            // The viewer left (or sent something unreadable): stop sending to it.
            try await group.next()
            group.cancelAll()
        }
    }

    /// subscribe / unsubscribe; anything else is answered with a status message.
    private func handle(_ text: String, subscriptions: Locked<[Int: UInt32]>, outbound: WebSocketOutboundWriter) async throws {
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        switch object?["op"] as? String {
        case "subscribe":
            let asked = object?["subscriptions"] as? [[String: Any]] ?? []
            var unknown: [Int] = []
            subscriptions.withLock { table in
                for entry in asked {
                    guard let id = (entry["id"] as? NSNumber)?.uint32Value, let channel = (entry["channelId"] as? NSNumber)?.intValue else { continue }
                    if (1...metricsChannel).contains(channel) { table[channel] = id } else { unknown.append(channel) }
                }
            }
            if !unknown.isEmpty { try await status(.warning, "no channel \(unknown.map(String.init).joined(separator: ", "))", outbound) }
        case "unsubscribe":
            let ids = Set((object?["subscriptionIds"] as? [NSNumber] ?? []).map(\.uint32Value))
            subscriptions.withLock { table in table = table.filter { !ids.contains($0.value) } }
        case let other:
            try await status(.warning, other.map { "operation \($0) is not supported" } ?? "not a JSON message with an op", outbound)
        }
    }

    private enum Level: Int { case info = 0, warning = 1, error = 2 }

    private func status(_ level: Level, _ message: String, _ outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(json(["op": "status", "level": level.rawValue, "message": message])))
    }

    /// Every 50 ms: each new image set to the image subscribers, the numbers once a second.
    private func send(subscriptions: Locked<[Int: UInt32]>, outbound: WebSocketOutboundWriter) async throws {
        var planes = [Float]()
        var lastVersion = 0, lastMetrics: UInt64 = 0
        while !Task.isCancelled {
            let wanted = subscriptions.withLock { $0 }
            let now = FoxgloveMessages.wallClockNanoseconds()
            if wanted.keys.contains(where: { $0 < metricsChannel }) {
                let version = publication.readImages(into: &planes)
                if version != lastVersion {
                    lastVersion = version
                    for panel in imageTopics.indices {
                        guard let subscription = wanted[panel + 1] else { continue }
                        let payload = FoxgloveMessages.image(planes, panel: panel, of: publication, time: now)
                        try await outbound.write(.binary(frame(subscription, now, payload)))
                    }
                }
            }
            if let subscription = wanted[metricsChannel], now - lastMetrics >= 1_000_000_000 {
                lastMetrics = now
                try await outbound.write(.binary(frame(subscription, now, FoxgloveMessages.metrics(publication.read().status, time: now))))
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    /// A message data frame: opcode 1, the subscription id, the time (nanoseconds), the payload.
    private func frame(_ subscription: UInt32, _ time: UInt64, _ payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(13 + payload.count)
        buffer.writeInteger(UInt8(1))
        buffer.writeInteger(subscription, endianness: .little)
        buffer.writeInteger(time, endianness: .little)
        buffer.writeBytes(payload)
        return buffer
    }

    private func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }
}
