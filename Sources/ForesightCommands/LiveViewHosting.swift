// `--serve`: what a command needs of a web server that shows a run (the live view and its
// /metrics), and the address it is given. ForesightCommands does not link a web server: the
// `foresight` executable installs ForesightServe's, so the option fuzzer and library users
// build without one.

import ArgumentParser
import ForesightCore
import ForesightLive
import ForesightSSL
import Foundation

/// A web server for a run's publication.
public protocol LiveViewHosting: Sendable {
    /// Starts serving `publication` at `address` (port 0: any free port), answering at most
    /// `maxViewers` requests at once; returns once it listens.
    func start(_ publication: LivePublication, at address: ServeAddress, maxViewers: Int) throws -> any LiveViewServing
}

/// A running live-view server.
public protocol LiveViewServing: AnyObject {
    /// Where it listens, "http://127.0.0.1:8080/".
    var url: String { get }
    /// Stops listening; requests in flight are cut short.
    func stop()
}

/// The web server `--serve` uses (none: `--serve` is refused with a clear error).
public enum LiveViewHost {
    private static let installed = Locked<(any LiveViewHosting)?>(nil)

    /// Installs the server; the `foresight` executable does so before parsing its options.
    public static func install(_ host: any LiveViewHosting) { installed.withLock { $0 = host } }

    static var current: (any LiveViewHosting)? { installed.withLock { $0 } }

    /// Viewers served at once; more are answered "503 busy".
    static let maxViewers = 8

    /// Serves `publication` at `address` and says where on standard error, or fails in one sentence.
    static func start(_ publication: LivePublication, at address: ServeAddress) throws -> any LiveViewServing {
        guard let host = current else { throw CommandFailure("--serve needs the foresight executable's web server, which this build lacks") }
        let server: any LiveViewServing
        do {
            server = try host.start(publication, at: address, maxViewers: maxViewers)
        } catch {
            throw CommandFailure("cannot serve the live view at \(address): \(error)")
        }
        FileHandle.standardError.write(Data("live view at \(server.url) (metrics at \(server.url)metrics)\n".utf8))
        return server
    }
}

/// `foresight train --serve`: each step's numbers, and a point of the loss curve about once a second.
final class TrainingPublisher {
    let publication: LivePublication
    private let start = MonotonicClock.nanoseconds()
    private var lastPoint: UInt64 = 0
    private var last = LivePublication.Status()

    init(title: String) {
        publication = LivePublication(kind: .train, title: title, size: 1, motion: false)
    }

    func show(_ progress: TrainingProgress) {
        let now = MonotonicClock.nanoseconds()
        last.steps = progress.step
        last.totalSteps = progress.totalSteps
        last.loss = Double(progress.loss)
        last.stepsPerSecond = progress.stepsPerSecond
        last.seconds = Double(now - start) / 1e9
        publication.publish(last)
        if now - lastPoint >= 1_000_000_000 || progress.step == progress.totalSteps {
            lastPoint = now
            publication.addPoint(.init(seconds: last.seconds, modelError: 0, copyLastError: 0, loss: last.loss))
        }
    }

    func finish() { publication.finish(last) }
}

/// `[ADDRESS:]PORT`: a port alone binds to 127.0.0.1 (this machine only); give an address,
/// such as 0.0.0.0, to let other machines connect.
public struct ServeAddress: Sendable, CustomStringConvertible, ExpressibleByArgument {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(argument: String) {
        var host = "127.0.0.1", portText = Substring(argument)
        if let colon = argument.lastIndex(of: ":") {
            host = String(argument[..<colon])
            portText = argument[argument.index(after: colon)...]
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }   // [::1]:8080
            guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static var defaultCompletionKind: CompletionKind { .default }

    /// `--serve`'s help, for a run that shows `what`.
    static func help(showing what: String) -> ArgumentHelp {
        ArgumentHelp("Serve a live view of the run at [ADDRESS:]PORT: a web page with \(what), and Prometheus metrics at /metrics. A port alone listens on 127.0.0.1 (this machine); give 0.0.0.0:PORT to let other machines look. Port 0 picks a free one; the address is printed.",
                     valueName: "[address:]port")
    }
}
