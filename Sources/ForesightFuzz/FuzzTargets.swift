// The parsers of outside data, each as a function of one input's bytes: what libFuzzer calls
// (built with -sanitize=fuzzer, see Tests/Fuzz/fuzz.sh) and what the replay driver runs over
// a corpus in ordinary builds. A target must return for every input: an error is the expected
// answer to a malformed one; a crash, a hang or an allocation beyond the plan is a finding.

import ArgumentParser
import Foundation
import ForesightCommands
import ForesightExport
import ForesightIO
import ForesightSensors

enum FuzzTarget: String, CaseIterable {
    case y4m, wav, pnm, png, modelfile, profile, int8model, options, actions, mcap

    /// Runs the parser on `bytes` and says whether it accepted them; errors are answers, not findings.
    @discardableResult
    func run(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .y4m:
            guard let reader = try? Y4MReader(bytes: bytes) else { return false }
            var frame = Y4MFrame(for: reader.header)
            // A frame that is read must be a whole frame of the header's size.
            while true {
                do throws(IOError) {
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
        case .int8model:
            return FuzzTarget.runInt8Model(bytes)
        case .options:
            return FuzzTarget.parseOptions(bytes)
        case .mcap:
            return FuzzTarget.runMCAP(bytes)
        case .actions:
            guard let track = try? ActionTrack(bytes: bytes) else { return false }
            precondition(track.count >= 1 && track.values.count == track.times.count * track.count, "values do not match the rows")
            precondition(track.values.allSatisfy { (-1...1).contains($0) }, "a value outside [-1, 1]")
            var action = [Float](repeating: .nan, count: track.count)
            for time in [-1, 0, track.times[track.times.count / 2], .infinity] {
                action.withUnsafeMutableBufferPointer { track.action(at: time, into: $0.baseAddress!) }
                precondition(action.allSatisfy(\.isFinite), "a non-finite action at time \(time)")
            }
            return true
        }
    }

    /// A ROS 2 bag, its chunks uncompressed or compressed with zstd or lz4: every message read
    /// from memory and every image decoded, whose pixels (or compressed bytes) must lie inside
    /// the message, and every decoded chunk no larger than its declared limit; then the file
    /// read as `learn --bag` reads it (JPEG through libturbojpeg), into grey frames that must be
    /// finite and within [0, 1].
    static func runMCAP(_ bytes: [UInt8]) -> Bool {
        do throws(IOError) {
            _ = try MCAPReader.summary(bytes: bytes)
            let reader = try MCAPReader(bytes: bytes)
            while let message = try reader.nextMessage() {
                precondition(message.data.count <= MCAPReader.maximumRecordBytes, "a message of \(message.data.count) bytes")
                if message.channel.schemaName == ROS2CompressedImage.schemaName {
                    let image = try ROS2CompressedImage(cdr: message.data, offset: message.offset)
                    precondition(image.data.lowerBound >= message.data.startIndex && image.data.upperBound <= message.data.endIndex,
                                 "compressed bytes \(image.data) outside the message \(message.data.indices)")
                    continue
                }
                guard message.channel.schemaName == ROS2Image.schemaName else { continue }
                let image = try ROS2Image(cdr: message.data, offset: message.offset)
                precondition(image.pixels.lowerBound >= message.data.startIndex && image.pixels.upperBound <= message.data.endIndex,
                             "pixels \(image.pixels) outside the message \(message.data.indices)")
                precondition(image.step * image.height <= image.pixels.count, "\(image.height) rows of \(image.step) bytes in \(image.pixels.count)")
            }
        } catch {
            return false
        }
        let path = scratchFile
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)),
              let frames = try? BagFrames(path: path, topic: nil, width: 8, height: 8) else { return false }
        var frame = [Float](repeating: .nan, count: 64)
        while true {
            do throws(IOError) {
                guard try frame.withUnsafeMutableBufferPointer({ (buffer) throws(IOError) -> UInt64? in try frames.next(into: buffer.baseAddress!) }) != nil else { return true }
            } catch {
                return false
            }
            precondition(frame.allSatisfy { $0 >= 0 && $0 <= 1.0001 }, "a grey value outside [0, 1]")
        }
    }

    /// An int8 encoder file: read as `foresight embed` reads it, then read again without its
    /// checksum (which a mutation almost always breaks) so that mutated values reach the
    /// checks of every tensor and scale; a file that passes them must run one frame stack to a
    /// finite embedding.
    static func runInt8Model(_ bytes: [UInt8]) -> Bool {
        let path = scratchFile
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return false }
        let intact = (try? Int8EncoderModel(path: path, batch: 1)) != nil
        guard let file = try? ModelFile(path: path, verifyingChecksum: false),
              let encoder = try? Int8EncoderModel(file: file, batch: 1) else {
            precondition(!intact, "a file accepted with its checksum is refused without it")
            return false
        }
        // A frame stack with dark, bright and mid-grey pixels: [1, 4, 64, 64] in [0, 1].
        for index in 0..<EncoderModel.inputElements { encoder.input[index] = Float(index * 37 % 256) / 255 }
        encoder.run()
        for index in 0..<EncoderModel.outputElements where !encoder.output[index].isFinite {
            preconditionFailure("an int8 encoder file that passed every check makes embedding \(index) \(encoder.output[index])")
        }
        return intact
    }

    /// The subcommands of `foresight` (learn, train, eval, ..., embed) by name.
    static let subcommands = Foresight.configuration.subcommands.map { (name: $0._commandName, type: $0) }

    /// A command line, one argument per line (or NUL-separated), parsed and validated as
    /// `foresight` parses and validates it before it runs anything, but never run. The first
    /// argument names a subcommand, or picks one by its first byte when it names none; the
    /// subcommand parses the rest itself (as the root command would hand them on, and about
    /// twice as fast). Refusals are answers; a trap in a `validate()` (a NaN or a huge
    /// number converted to an integer, an overflow) is a finding.
    static func parseOptions(_ bytes: [UInt8]) -> Bool {
        var arguments = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: 0, omittingEmptySubsequences: false) }
            .map { String(decoding: $0, as: UTF8.self) }
        if arguments.last == "" { arguments.removeLast() }  // the file's final newline
        guard let first = arguments.first else { return false }
        let command = subcommands.first { $0.name == first }?.type ?? subcommands[Int(first.utf8.first ?? 0) % subcommands.count].type
        return (try? command.parseAsRoot(Array(arguments.dropFirst()))) != nil
    }

    /// A file of this process for parsers that read paths.
    static let scratchFile = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path) + "/foresight-fuzz-\(getpid()).bin"
}
