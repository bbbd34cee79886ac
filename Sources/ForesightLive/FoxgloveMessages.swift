// The run in Foxglove's terms, for the MCAP recording and the Foxglove WebSocket alike: the
// frame, the prediction, the truth and the motion field as Foxglove's well-known
// `foxglove.RawImage` (JSON encoding, the pixels in base64; grey `mono8`, the motion
// colour-coded `rgb8`) and the run's numbers as `foresight.Metrics` JSON, plotted by field.

import Foundation
import ForesightCore

/// Topics, schemas and message encoding of a published run.
public enum FoxgloveMessages {
    /// The newest past frame, the prediction, the truth and the motion field (colour-coded).
    public static let allImageTopics = ["/foresight/frame", "/foresight/prediction", "/foresight/truth", "/foresight/motion"]
    public static let metricsTopic = "/foresight/metrics"
    public static let imageSchemaName = "foxglove.RawImage"
    public static let metricsSchemaName = "foresight.Metrics"

    /// The image topics `publication` has (the motion only when it publishes motion).
    public static func imageTopics(_ publication: LivePublication) -> ArraySlice<String> {
        allImageTopics.prefix(publication.panelCount)
    }

    /// Panel `panel` of `publication`'s planes (as `readImages` fills them) as a RawImage
    /// message: mono8 for the frame, the prediction and the truth, rgb8 for the motion.
    public static func image(_ planes: [Float], panel: Int, of publication: LivePublication, time: UInt64) -> [UInt8] {
        let side = publication.size, plane = side * side
        let encoding = panel == 3 ? "rgb8" : "mono8"
        var pixels = [UInt8]()
        pixels.reserveCapacity(panel == 3 ? 3 * plane : plane)
        for i in 0..<plane {
            let (r, g, b) = publication.colour(ofPanel: panel, pixel: i, in: planes)
            if panel == 3 { pixels.append(r); pixels.append(g); pixels.append(b) } else { pixels.append(r) }
        }
        let message = #"{"timestamp":\#(timestamp(time)),"frame_id":"camera","width":\#(side),"height":\#(side),"#
            + #""encoding":"\#(encoding)","step":\#(encoding == "mono8" ? side : 3 * side),"data":"\#(Data(pixels).base64EncodedString())"}"#
        return Array(message.utf8)
    }

    /// The run's numbers as a foresight.Metrics message.
    public static func metrics(_ status: LivePublication.Status, time: UInt64) -> [UInt8] {
        func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
        let ratio = status.copyLastError > 0 ? status.modelError / status.copyLastError : 0
        let message = #"{"timestamp":\#(timestamp(time)),"seconds":\#(number(status.seconds)),"steps":\#(status.steps),"#
            + #""frames":\#(status.frames),"dropped":\#(status.dropped),"rollbacks":\#(status.rollbacks),"#
            + #""model_mse":\#(number(status.modelError)),"copy_last_mse":\#(number(status.copyLastError)),"ratio":\#(number(ratio)),"#
            + #""loss":\#(number(status.loss)),"learning_rate":\#(number(status.learningRate)),"#
            + #""steps_per_second":\#(number(status.stepsPerSecond)),"resident_mib":\#(number(residentMiB()))}"#
        return Array(message.utf8)
    }

    private static func timestamp(_ nanoseconds: UInt64) -> String {
        #"{"sec":\#(nanoseconds / 1_000_000_000),"nsec":\#(nanoseconds % 1_000_000_000)}"#
    }

    /// Nanoseconds since the Unix epoch, the time Foxglove messages carry.
    public static func wallClockNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// foxglove.RawImage, as Foxglove's schemas give it in JSON Schema.
    public static let rawImageSchema = #"""
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
    public static let metricsSchema = #"""
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
