// The web side of a run: a Hummingbird server that answers from a `LivePublication` — the
// live view's page, its numbers and images, and Prometheus metrics at /metrics. It only reads
// the publication (copying out under its lock), so a slow or vanished viewer never slows the
// learner. Binds where `--serve` says, 127.0.0.1 unless told otherwise.

import Foundation
import ForesightCommands
import ForesightCore
import ForesightLive
import Hummingbird
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging

/// The web server `foresight --serve` uses.
public struct HummingbirdLiveViewHost: LiveViewHosting {
    public init() {}

    public func start(_ publication: LivePublication, at address: ServeAddress, maxViewers: Int) throws -> any LiveViewServing {
        try LiveViewServer(publication: publication, address: address, maxViewers: maxViewers)
    }
}

/// A running server: started in `init`, which returns once it listens (or throws why it cannot).
public final class LiveViewServer: LiveViewServing, @unchecked Sendable {
    public let url: String
    private let task: Task<Void, Error>
    private let finished = Latch()

    /// Seconds to wait for the socket to listen before giving up.
    static let startTimeout: Double = 10

    public init(publication: LivePublication, address: ServeAddress, maxViewers: Int) throws {
        let content = LiveViewContent(publication: publication)
        let router = Router()
        router.middlewares.add(ViewerLimit(places: Places(maxViewers)))
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: LiveViewPage.html)))
        }
        router.get("/status") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(bytes: content.statusJSON())))
        }
        router.get("/images") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(bytes: content.imageBytes())))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(bytes: content.metrics.scrape())))
        }
        let bound = Locked<Result<Int, Error>?>(nil)
        var logger = Logger(label: "foresight.serve")
        logger.logLevel = .critical
        // Foxglove connects on the same port with its WebSocket subprotocol; at most maxViewers
        // sessions. One more is closed at once with 1013 (try again later) and the reason, which
        // a client can show, rather than a bare "400" for a refused upgrade.
        let bridge = FoxgloveBridge(publication: publication)
        let sessions = Places(maxViewers)
        let server = HTTPServerBuilder.http1WebSocketUpgrade { request, _, _ in
            guard FoxgloveBridge.isWanted(request) else { return .dontUpgrade }
            guard sessions.take() else {
                return .upgrade([.secWebSocketProtocol: FoxgloveBridge.subprotocol]) { _, outbound, _ in
                    try await outbound.close(.unknown(1013), reason: "busy: \(maxViewers) Foxglove sessions already")
                }
            }
            return .upgrade([.secWebSocketProtocol: FoxgloveBridge.subprotocol]) { inbound, outbound, _ in
                defer { sessions.giveBack() }
                try await bridge.serve(inbound: inbound, outbound: outbound)
            }
        }
        let app = Application(router: router, server: server,
                              configuration: .init(address: .hostname(address.host, port: address.port), serverName: "foresight"),
                              onServerRunning: { channel in bound.withLock { $0 = .success(channel.localAddress?.port ?? address.port) } },
                              logger: logger)
        let finished = self.finished
        task = Task {
            defer { finished.open() }
            do { try await app.run() } catch {
                bound.withLock { if $0 == nil { $0 = .failure(error) } }
                throw error
            }
        }
        let deadline = MonotonicClock.nanoseconds() + UInt64(Self.startTimeout * 1e9)
        let outcome = bound.withLock(when: { $0 != nil || MonotonicClock.nanoseconds() >= deadline }, deadline: deadline) { $0 }
        switch outcome {
        case let .success(port)?:
            url = "http://\(ServeAddress(host: address.host, port: port))/"
        case let .failure(error)?:
            throw LiveViewError(reason: LiveViewError.describe(error))
        case nil:
            task.cancel()
            throw LiveViewError(reason: "it did not listen within \(Int(Self.startTimeout)) s")
        }
    }

    public func stop() {
        task.cancel()
        _ = finished.wait(deadline: MonotonicClock.nanoseconds() + 5_000_000_000)
    }

    deinit { task.cancel() }
}

/// Why the server could not start, in words.
struct LiveViewError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }

    /// "Address already in use (errno: 98)" rather than a NIO type dump.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if let range = text.range(of: "Address already in use") { return String(text[range]) + " (another program, or another foresight, listens there)" }
        if text.contains("Cannot assign requested address") { return "Cannot assign requested address (not an address of this machine)" }
        if text.contains("Permission denied") { return "Permission denied (ports below 1024 need privileges)" }
        return text
    }
}

/// Answers "503 busy" beyond `maximum` requests at once, so that many viewers cannot make the
/// server hold unbounded memory.
struct ViewerLimit<Context: RequestContext>: RouterMiddleware {
    let places: Places

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard places.take() else {
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "1"],
                            body: .init(byteBuffer: ByteBuffer(string: "busy: \(places.count) viewers already\n")))
        }
        defer { places.giveBack() }
        return try await next(request, context)
    }
}
