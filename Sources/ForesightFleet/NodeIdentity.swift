// A node's key pair and the three call headers Flower's SuperLink checks on every Fleet call:
// the public key (PEM), the time (ISO 8601, UTC) and an ECDSA P-384 signature of that time
// (SHA-256, DER). The key is made once per process unless a PEM file keeps it.

import Crypto
import Foundation
import GRPCCore

/// The node's ECDSA P-384 identity.
struct NodeIdentity: Sendable {
    let privateKey: P384.Signing.PrivateKey
    /// The public key as the SuperLink stores it: PEM SubjectPublicKeyInfo.
    let publicKeyPEM: [UInt8]

    init(privateKey: P384.Signing.PrivateKey = P384.Signing.PrivateKey()) {
        self.privateKey = privateKey
        publicKeyPEM = Array((privateKey.publicKey.pemRepresentation + "\n").utf8)
    }

    /// The key kept in `path` (PKCS#8 PEM), made and written there (mode 0600) if the file does
    /// not exist; its public key is written beside it, to `path` + ".pub", for a SuperLink that
    /// admits only registered nodes (`flwr supernode register PATH.pub`).
    init(keptIn path: String) throws {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            do { self.init(privateKey: try P384.Signing.PrivateKey(pemRepresentation: text)) } catch {
                throw FleetError.malformed("node key \(path): not an ECDSA P-384 private key in PEM (\(error))")
            }
        } else {
            let key = P384.Signing.PrivateKey()
            guard FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw FleetError.malformed("node key \(path): cannot be written")
            }
            self.init(privateKey: key)
        }
        let publicPath = path + ".pub"
        if !FileManager.default.fileExists(atPath: publicPath) {
            FileManager.default.createFile(atPath: publicPath, contents: Data(publicKeyPEM))
        }
    }

    /// The signed headers of one call.
    func callMetadata(now: Date = Date()) -> Metadata {
        let timestamp = Self.isoTimestamp(now)
        let signature = (try? privateKey.signature(for: SHA256.hash(data: Array(timestamp.utf8))))?.derRepresentation ?? Data()
        var metadata = Metadata()
        metadata.addBinary(publicKeyPEM, forKey: "flwr-public-key-bin")
        metadata.addString(timestamp, forKey: "flwr-timestamp")
        metadata.addBinary(Array(signature), forKey: "flwr-signature-bin")
        return metadata
    }

    /// "2026-12-06T21:25:40.123456+00:00", as Python's `datetime.isoformat()` writes a UTC time.
    static func isoTimestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1e6).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }
}
