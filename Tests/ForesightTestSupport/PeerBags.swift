// ROS 2 bags for tests, written by an independent writer: Tests/Peers/write_bag.py with the
// `mcap` and `mcap-ros2-support` packages from PyPI (and `zstandard`, `lz4` and Pillow for
// compressed chunks and JPEG images). Not a writer of Foresight's own.

import Foundation

/// Runs Tests/Peers/write_bag.py.
public enum PeerBag {
    /// What installs the Python packages the writer needs.
    public static let pipCommand = "python3 -m pip install mcap mcap-ros2-support zstandard lz4 Pillow"

    /// The writer script, found from this file's place in the package.
    public static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/write_bag.py")
    }

    /// Writes a bag to `path` with the writer's `options` (see `write_bag.py --help`); false when
    /// python3 or its mcap packages are missing (the writer exits with status 2). Any other
    /// failure throws with the writer's output.
    public static func write(_ path: String, _ options: [String] = []) throws -> Bool {
        // python3 as the shell finds it (the one pip installed into); 127: there is none.
        let (status, output) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, path] + options)
        if status == 127 || (status == 2 && output.contains("needs the mcap packages")) { return false }
        guard status == 0 else { throw PeerBagFailure(description: "write_bag.py \(options.joined(separator: " ")) failed (\(status)): \(output)") }
        return true
    }
}

/// The writer failed for a reason other than missing packages.
public struct PeerBagFailure: Error, CustomStringConvertible {
    public let description: String
}
