// `foresight learn --record-mcap`: the run written as it goes into an MCAP file that Foxglove
// opens without configuration. A thread of its own reads the learner's `LivePublication` (the
// learner never waits for it, as for any viewer) and writes each new set of images with
// Foxglove's well-known `foxglove.RawImage` schema (JSON encoding: the pixels in base64) and
// the run's numbers about once a second as `foresight.Metrics` JSON, plotted by field.

import Foundation
import ForesightCore
import ForesightIO

/// Records a publication into an MCAP file until `finish`.
public final class LiveRecording: @unchecked Sendable {
    /// Topics: the newest past frame, the prediction, the truth and the motion field (colour-coded).
    public static let imageTopics = ["/foresight/frame", "/foresight/prediction", "/foresight/truth", "/foresight/motion"]
    public static let metricsTopic = "/foresight/metrics"

    private let publication: LivePublication
    private let writer: MCAPWriter
    private var imageChannels: [UInt16] = []
    private var metricsChannel: UInt16 = 0
    private let stop = Locked(false)
    private var thread: JoinableThread?
    private let outcome = Locked<(sets: Int, metrics: Int, error: IOError?)>((0, 0, nil))
    /// Largest motion shown at full colour, pixels (as the live view).
    private let motionLimit: Float = 4

    /// Creates the file and starts recording.
    public init(_ publication: LivePublication, path: String) throws(IOError) {
        self.publication = publication
        writer = try MCAPWriter(path: path)
        let image = try writer.addSchema(name: "foxglove.RawImage", encoding: "jsonschema", data: Array(Self.rawImageSchema.utf8))
        let metrics = try writer.addSchema(name: "foresight.Metrics", encoding: "jsonschema", data: Array(Self.metricsSchema.utf8))
        let panels = publication.hasMotion ? 4 : 3
        for topic in Self.imageTopics.prefix(panels) {
            imageChannels.append(try writer.addChannel(topic: topic, schema: image, messageEncoding: "json"))
        }
        metricsChannel = try writer.addChannel(topic: Self.metricsTopic, schema: metrics, messageEncoding: "json")
        thread = JoinableThread(name: "foresight.mcap") { [self] in record() }
    }

    /// Stops recording and completes the file: image sets and metrics messages written.
    @discardableResult
    public func finish() throws(IOError) -> (imageSets: Int, metrics: Int) {
        stop.withLock { $0 = true }
        thread?.join()
        thread = nil
        let (sets, metrics, error) = outcome.withLock { $0 }
        if let error { throw error }
        try writer.finish()
        return (sets, metrics)
    }

    /// Polls the publication every 10 ms; writes each new image set, and the numbers once a second and at the end.
    private func record() {
        var planes = [Float]()
        var lastVersion = 0, lastMetrics: UInt64 = 0
        do {
            while true {
                let stopping = stop.withLock { $0 }
                let version = publication.readImages(into: &planes)
                let now = Self.wallClockNanoseconds()
                if version != lastVersion {
                    lastVersion = version
                    try writeImages(planes, at: now)
                }
                if stopping || now - lastMetrics >= 1_000_000_000 {
                    lastMetrics = now
                    try writeMetrics(at: now)
                }
                if stopping { break }
                usleep(10_000)
            }
        } catch let error as IOError {
            outcome.withLock { $0.error = error }
        } catch {
            outcome.withLock { $0.error = IOError.file("MCAP", .io, at: 0, "\(error)") }
        }
    }

    private func writeImages(_ planes: [Float], at time: UInt64) throws {
        let side = publication.size, plane = side * side
        for (panel, channel) in imageChannels.enumerated() {
            var pixels: [UInt8]
            let encoding: String
            if panel < 3 {
                encoding = "mono8"
                pixels = planes[panel * plane..<(panel + 1) * plane].map { value in
                    UInt8(max(0, min(255, (value.isFinite ? value : 0) * 255 + 0.5)))
                }
            } else {
                encoding = "rgb8"
                pixels = [UInt8](repeating: 0, count: 3 * plane)
                for i in 0..<plane {
                    let u = planes[3 * plane + i], v = planes[4 * plane + i]
                    let (r, g, b) = motionColor(u: u.isFinite ? u : 0, v: v.isFinite ? v : 0, limit: motionLimit)
                    pixels[3 * i] = r; pixels[3 * i + 1] = g; pixels[3 * i + 2] = b
                }
            }
            let message = #"{"timestamp":\#(Self.timestamp(time)),"frame_id":"camera","width":\#(side),"height":\#(side),"#
                + #""encoding":"\#(encoding)","step":\#(encoding == "mono8" ? side : 3 * side),"data":"\#(Data(pixels).base64EncodedString())"}"#
            try writer.write(channel: channel, logTime: time, data: Array(message.utf8))
        }
        outcome.withLock { $0.sets += 1 }
    }

    private func writeMetrics(at time: UInt64) throws {
        let (status, _) = publication.read()
        func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
        let ratio = status.copyLastError > 0 ? status.modelError / status.copyLastError : 0
        let message = #"{"timestamp":\#(Self.timestamp(time)),"seconds":\#(number(status.seconds)),"steps":\#(status.steps),"#
            + #""frames":\#(status.frames),"dropped":\#(status.dropped),"rollbacks":\#(status.rollbacks),"#
            + #""model_mse":\#(number(status.modelError)),"copy_last_mse":\#(number(status.copyLastError)),"ratio":\#(number(ratio)),"#
            + #""loss":\#(number(status.loss)),"learning_rate":\#(number(status.learningRate)),"#
            + #""steps_per_second":\#(number(status.stepsPerSecond)),"resident_mib":\#(number(residentMiB()))}"#
        try writer.write(channel: metricsChannel, logTime: time, data: Array(message.utf8))
        outcome.withLock { $0.metrics += 1 }
    }

    private static func timestamp(_ nanoseconds: UInt64) -> String {
        #"{"sec":\#(nanoseconds / 1_000_000_000),"nsec":\#(nanoseconds % 1_000_000_000)}"#
    }

    private static func wallClockNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// foxglove.RawImage, as Foxglove's schemas give it in JSON Schema.
    static let rawImageSchema = #"""
    {"title":"foxglove.RawImage","description":"A raw image","type":"object","properties":{\#
    "timestamp":{"type":"object","title":"time","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}},"description":"Timestamp of image"},\#
    "frame_id":{"type":"string","description":"Frame of reference for the image."},\#
    "width":{"type":"integer","minimum":0,"description":"Image width"},\#
    "height":{"type":"integer","minimum":0,"description":"Image height"},\#
    "encoding":{"type":"string","description":"Encoding of the raw image data"},\#
    "step":{"type":"integer","minimum":0,"description":"Byte length of a single row"},\#
    "data":{"type":"string","contentEncoding":"base64","description":"Raw image data"}}}
    """#

    /// The run's numbers.
    static let metricsSchema = #"""
    {"title":"foresight.Metrics","description":"A live learning run's numbers","type":"object","properties":{\#
    "timestamp":{"type":"object","title":"time","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},\#
    "seconds":{"type":"number","description":"Seconds since the run started"},\#
    "steps":{"type":"integer"},"frames":{"type":"integer"},"dropped":{"type":"integer"},"rollbacks":{"type":"integer"},\#
    "model_mse":{"type":"number","description":"The model's next-frame MSE over the evaluation window"},\#
    "copy_last_mse":{"type":"number","description":"Copying the last frame's MSE over the same window"},\#
    "ratio":{"type":"number","description":"model_mse / copy_last_mse"},\#
    "loss":{"type":"number"},"learning_rate":{"type":"number"},"steps_per_second":{"type":"number"},\#
    "resident_mib":{"type":"number","description":"Resident memory, MiB"}}}
    """#
}
