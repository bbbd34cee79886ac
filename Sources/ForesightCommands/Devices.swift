// `foresight devices`: lists the cameras (with formats, sizes and frame rates) and the
// microphones this machine has. Not a device tester: nothing is opened for streaming.

import ArgumentParser
import ForesightSensors
import ForesightIO

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List cameras (V4L2) and microphones (ALSA) with their modes.",
        discussion: "Formats marked 'converted' are produced by libv4l2 in software (e.g. from an MJPEG camera); they are listed when libv4l2 is installed."
    )

    @Flag(help: "Show every size of every format (default: at most 6 sizes per format).")
    var all = false

    func run() throws {
        let cameras = Camera.enumerate()
        print("Cameras:")
        if cameras.isEmpty { print("  none found (/dev/video*)") }
        for camera in cameras {
            print("  \(camera.path)  \(camera.name)  [\(camera.driver), \(camera.bus)]")
            for format in camera.formats {
                print("    \(format.fourCC)  \(format.name)\(format.emulated ? "  (converted)" : "")")
                let shown = all ? format.sizes : Array(format.sizes.prefix(6))
                for size in shown {
                    let rates = size.framesPerSecond.map { $0 == $0.rounded() ? String(Int($0)) : String(format: "%.2f", $0) }
                    print("      \(size.width)x\(size.height)" + (rates.isEmpty ? "" : "  @ \(rates.joined(separator: ", ")) fps"))
                }
                if shown.count < format.sizes.count { print("      ... \(format.sizes.count - shown.count) more (--all)") }
            }
        }
        if !cameras.isEmpty, let missing = Camera.missingConversionLibrary { print("  (no converted formats: \(missing))") }
        print("Microphones:")
        do {
            for microphone in try Microphone.enumerate() {
                print("  \(microphone.name)  \(microphone.card)" + (microphone.device == microphone.name ? "" : ": \(microphone.device)"))
            }
        } catch {
            print("  none: \(error)")
        }
    }
}
