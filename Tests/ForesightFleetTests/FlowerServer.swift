// Flower's own server for the tests: Sources/ForesightFleet/FlowerApp/serve.py (a SuperLink and
// the repository's ServerApp) on 127.0.0.1 with free ports, skipped when flwr is not installed.

import Foundation
import XCTest
import ForesightCore

/// A running serve.py.
final class FlowerServer: @unchecked Sendable {
    static let pipCommand = "python3 -m pip install flwr==1.39.0"
    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ForesightFleet/FlowerApp/serve.py")
    }

    let process = Process()
    let logPath: String
    let resultPath: String
    /// The Fleet API's "127.0.0.1:PORT".
    private(set) var fleetAddress = ""

    /// Skips the test when flwr 1.39.0 is missing.
    static func requireFlower() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import importlib.metadata as m, sys; sys.exit(0 if m.version('flwr') == '1.39.0' else 3)"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        if check.terminationStatus != 0 { throw XCTSkip("Flower's server (flwr 1.39.0) is not installed: \(pipCommand)") }
    }

    /// Starts serve.py with `options` and waits until its Fleet API listens at `fleet` (a free port by default).
    init(_ options: [String], folder: URL, fleet: String = "127.0.0.1:0") throws {
        logPath = folder.appendingPathComponent("serve.log").path
        resultPath = folder.appendingPathComponent("result.json").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", Self.script.path, "--fleet", fleet, "--result", resultPath] + options
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Fleet API at ") }) {
                fleetAddress = String(line.dropFirst("Fleet API at ".count).split(separator: ";")[0].split(separator: " ")[0])
                return
            }
            guard process.isRunning else { throw ServerFailure(description: "serve.py exited: \(text)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        stop()
        throw ServerFailure(description: "serve.py did not start its SuperLink within 90 s: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Processes still alive (not zombies) that were started to watch the SuperLink
    /// (`--parent-pid`): its SuperExec and apps, which serve.py must stop when it ends.
    var leftovers: [String] {
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("SuperLink pid ") }),
              let superlink = Int(line.dropFirst("SuperLink pid ".count)) else { return ["no SuperLink pid in the log: \(log)"] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> String? in
            guard Int(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let flag = arguments.firstIndex(of: "--parent-pid"), flag + 1 < arguments.count, arguments[flag + 1] == String(superlink) else { return nil }
            let state = (try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8))?.components(separatedBy: ") ").last ?? ""
            return state.hasPrefix("Z") ? nil : "\(entry): \(arguments.joined(separator: " "))"
        }
    }

    /// Waits for the run to end (at most `seconds`); its exit status, nil if it is still running.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// The result file: the final arrays by name, with their values.
    func result() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: resultPath))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func stop() {
        if process.isRunning { process.interrupt() }
        if wait(seconds: 15) == nil { process.terminate() }
    }

    struct ServerFailure: Error, CustomStringConvertible { let description: String }

    /// A certificate authority and a server certificate it signed for 127.0.0.1 and localhost,
    /// made in `folder` with Python's cryptography (which flwr requires): the paths of the
    /// authority's certificate, the server's certificate and the server's key (PEM).
    static func makeCertificates(in folder: URL, name: String = "fleet") throws -> (authority: String, certificate: String, key: String) {
        let paths = ["-ca.pem", ".pem", ".key"].map { folder.appendingPathComponent(name + $0).path }
        let program = """
        import datetime, ipaddress, sys
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        now = datetime.datetime.now(datetime.timezone.utc)
        def certificate(subject, issuer, key, signer, authority, names=None):
            builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True))
            if names:
                builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            return builder.sign(signer, hashes.SHA256())
        authority_key = ec.generate_private_key(ec.SECP256R1())
        authority = certificate(sys.argv[4] + " test authority", sys.argv[4] + " test authority", authority_key, authority_key, True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = certificate("localhost", authority.subject.rfc4514_string()[3:], server_key, authority_key, False,
                             [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        open(sys.argv[1], "wb").write(authority.public_bytes(serialization.Encoding.PEM))
        open(sys.argv[2], "wb").write(server.public_bytes(serialization.Encoding.PEM))
        open(sys.argv[3], "wb").write(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        """
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        maker.arguments = ["python3", "-c", program] + paths + [name]
        try maker.run()
        maker.waitUntilExit()
        guard maker.terminationStatus == 0 else { throw ServerFailure(description: "could not make test certificates") }
        return (paths[0], paths[1], paths[2])
    }
}
