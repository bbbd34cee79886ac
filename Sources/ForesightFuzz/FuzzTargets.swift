// The parsers of outside data, each as a function of one input's bytes: what libFuzzer calls
// (built with -sanitize=fuzzer, see Tests/Fuzz/fuzz.sh) and what the replay driver runs over
// a corpus in ordinary builds. A target must return for every input: an error is the expected
// answer to a malformed one; a crash, a hang or an allocation beyond the plan is a finding.

import Foundation
import ForesightIO

enum FuzzTarget: String, CaseIterable {
    case y4m, wav, pnm, png, modelfile, profile

    /// Runs the parser on `bytes` and says whether it accepted them; errors are answers, not findings.
    @discardableResult
    func run(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .y4m:
            guard let reader = try? Y4MReader(bytes: bytes) else { return false }
            var frame = Y4MFrame(for: reader.header)
            // A frame that is read must be a whole frame of the header's size.
            while true {
                do throws(FileFormatError) {
                    guard try reader.readFrame(into: &frame) else { return true }
                } catch {
                    return false
                }
                precondition(frame.planes.count == reader.header.frameBytes, "a frame of \(frame.planes.count) bytes for a header of \(reader.header.frameBytes)")
            }
        case .wav:
            guard let clip = try? WAV.decode(bytes) else { return false }
            precondition(clip.samples.count % max(1, clip.channels) == 0, "samples not a whole number of frames")
            return true
        case .pnm:
            guard let image = try? PNM.decode(bytes) else { return false }
            precondition(image.pixels.count == image.width * image.height * image.channels, "pixels do not match the size")
            return true
        case .png:
            guard let image = try? PNG.decode(bytes) else { return false }
            precondition(image.pixels.count == image.width * image.height * image.channels, "pixels do not match the size")
            return true
        case .modelfile:
            let path = FuzzTarget.scratchFile
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return false }
            guard let file = try? ModelFile(path: path) else { return false }
            for name in file.tensors.keys.sorted() { _ = try? file.bytes(name) }
            return true
        case .profile:
            return (try? DeviceProfile.decode(Data(bytes), source: "fuzz input")) != nil
        }
    }

    /// A file of this process for parsers that read paths.
    static let scratchFile = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path) + "/foresight-fuzz-\(getpid()).bin"
}
