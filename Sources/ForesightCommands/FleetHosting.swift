// `--fleet`: what a command needs of a federation client (joining a Flower server, exchanging
// the model's parameters through a `FleetExchange`, leaving). ForesightCommands links no gRPC:
// the `foresight` executable installs ForesightFleet's client, as it installs the web server.

import ArgumentParser
import ForesightCore
import ForesightLive
import ForesightNN
import Foundation

/// How a run joins its federation: what `--fleet` and the options beside it ask.
public struct FleetRequest: Sendable {
    /// The Fleet API of the SuperLink, "HOST:PORT".
    public var address: String
    /// Steps a round learns before replying when the server does not say.
    public var localSteps: Int
    /// A PEM file keeping the node's key (nil: a new key each run).
    public var keyPath: String?
    /// Replies carry float16 arrays (half the bytes) instead of float32.
    public var halfPrecision: Bool
    /// A PEM file of the certificates that vouch for a SuperLink that speaks TLS (nil: plaintext).
    public var rootCertificates: String?
}

/// A federation client for a run.
public protocol FleetHosting: Sendable {
    /// Joins the Flower federation `request` names with the arrays of `exchange`, on a task of
    /// its own; returns at once. `notice` hears what happens to the connection (once per
    /// change, not every round).
    func join(_ request: FleetRequest, exchange: FleetExchange, notice: @escaping @Sendable (String) -> Void) throws -> any FleetMembership
}

/// A run's place in a federation.
public protocol FleetMembership: AnyObject {
    /// Leaves the federation (the client stops after its current call) and waits for it.
    func leave()
    /// One line: rounds, bytes per round, refusals.
    var summary: String { get }
}

/// The federation client `--fleet` uses (none: `--fleet` is refused with a clear error).
public enum FleetHost {
    private static let installed = Locked<(any FleetHosting)?>(nil)

    /// Installs the client; the `foresight` executable does so before parsing its options.
    public static func install(_ host: any FleetHosting) { installed.withLock { $0 = host } }

    /// Joins the federation of `request` with `exchange`, saying so on standard error, or fails in one sentence.
    static func join(_ request: FleetRequest, exchange: FleetExchange) throws -> any FleetMembership {
        guard let host = installed.withLock({ $0 }) else { throw CommandFailure("--fleet needs the foresight executable's Flower client, which this build lacks") }
        let values = exchange.totalCount
        FileHandle.standardError.write(Data("fleet: joining the Flower federation at \(request.address)\(request.rootCertificates == nil ? "" : " over TLS") with \(exchange.names.count) arrays (\(values) values, \(formatBytes(values * (request.halfPrecision ? 2 : 4))) as \(request.halfPrecision ? "float16" : "float32"))\n".utf8))
        do {
            return try host.join(request, exchange: exchange) { line in
                FileHandle.standardError.write(Data("fleet: \(line)\n".utf8))
            }
        } catch {
            throw CommandFailure("cannot join the federation at \(request.address): \(error)")
        }
    }
}

/// `--fleet` and the options beside it, shared by `learn` and `train`.
struct FleetOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Join a Flower federation: the Fleet API of its SuperLink at HOST:PORT (see the README's Fleet section). Each round the model's trainable parameters go to the server after the round's local steps, and the average comes back and is adopted between two steps; learning goes on meanwhile. A server that goes away is retried while learning goes on locally.",
        valueName: "host:port"))
    var fleet: String?

    @Option(help: ArgumentHelp("With --fleet: keep the node's ECDSA P-384 key in this PEM file (made if missing), so that the node keeps its identity across runs (default: a new key each run).", valueName: "file"))
    var fleetKey: String?

    @Flag(help: "With --fleet: send the parameters as float16, half the bytes of float32 (the average then comes back in float16 too).")
    var fleetFloat16 = false

    @Option(help: ArgumentHelp("With --fleet: speak TLS to the SuperLink and trust the certificates in this PEM file (the SuperLink's --ssl-ca-certfile); its certificate must name the host of --fleet. Without it the connection is plaintext, for a SuperLink started with --insecure.", valueName: "file"))
    var fleetRootCertificates: String?

    /// Steps a round learns before replying when the server does not say ("local-steps").
    static let localSteps = 20

    func validate() throws {
        if (fleetKey != nil || fleetFloat16 || fleetRootCertificates != nil) && fleet == nil {
            throw ValidationError("--fleet-key, --fleet-float16 and --fleet-root-certificates need --fleet HOST:PORT")
        }
        guard let address = fleet else { return }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
              colon > address.startIndex else {
            throw ValidationError("--fleet must be HOST:PORT, the Fleet API of a Flower SuperLink, for example 127.0.0.1:9092 (got \(address))")
        }
    }

    /// Joins the federation `--fleet` names with the parameters of `program`; nil without `--fleet`.
    func join(_ program: Program, examplesPerStep: Int) throws -> FleetSession? {
        guard let fleet else { return nil }
        let exchange = FleetExchange(parameters: program.parameters.map(program.tensor), examplesPerStep: examplesPerStep)
        let membership = try FleetHost.join(FleetRequest(address: fleet, localSteps: FleetOptions.localSteps, keyPath: fleetKey, halfPrecision: fleetFloat16,
                                                         rootCertificates: fleetRootCertificates), exchange: exchange)
        return FleetSession(exchange: exchange, membership: membership)
    }
}

/// A run's part in a federation: the exchange its training steps call at each boundary, and
/// the client behind it.
final class FleetSession {
    let exchange: FleetExchange
    private let membership: any FleetMembership

    init(exchange: FleetExchange, membership: any FleetMembership) {
        self.exchange = exchange
        self.membership = membership
    }

    /// Stops exchanging, leaves the federation and returns the line that sums it up.
    func end() -> String {
        exchange.close()
        membership.leave()
        return "fleet: \(membership.summary)"
    }
}
