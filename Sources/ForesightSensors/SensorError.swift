// The one error of the sensors: cameras (V4L2) and microphones (ALSA), worded for the person
// at the robot: what happened to which device, and what to do about it.

import Glibc
import ForesightIO

/// What can go wrong with a camera or a microphone.
///
/// ```swift
/// do { _ = try V4L2Camera(path: "/dev/video9") } catch { print(error) }   // SensorError.noSuchCamera
/// ```
public enum SensorError: Error, Equatable, CustomStringConvertible, Sendable {
    // Cameras
    /// No device node at the path (unplugged, or a wrong number).
    case noSuchCamera(path: String)
    /// Another program is using the camera.
    case cameraBusy(path: String)
    /// The user may not open the device node.
    case cameraPermissionDenied(path: String)
    /// The node exists but is not a video capture device (e.g. a metadata node).
    case notACaptureDevice(path: String)
    /// The camera refused the format, size or frame rate asked for.
    case cameraFormatRejected(path: String, reason: String)
    /// The camera disappeared while streaming (unplugged, driver unbound).
    case cameraGone(path: String)
    /// No frame arrived within the time allowed.
    case cameraTimeout(path: String, milliseconds: Int)
    /// Any other failing system call on a camera, with its errno.
    case cameraSystemCall(path: String, call: String, errno: Int32)
    /// The camera offers none of the formats asked for natively, and libv4l2, which converts
    /// others (e.g. MJPEG), is not installed.
    case conversionLibraryMissing(path: String, offered: [String], MissingLibrary)

    // Microphones
    /// No such ALSA device (wrong card or device number, unknown name).
    case noSuchMicrophone(name: String, message: String)
    /// Another program holds the device.
    case microphoneBusy(name: String)
    /// The device refused the sample format, rate, channel count or sizes.
    case microphoneFormatRejected(name: String, reason: String)
    /// The device disappeared (USB microphone unplugged).
    case microphoneGone(name: String)
    /// Any other ALSA failure, with ALSA's message.
    case alsaCall(name: String, call: String, code: Int32, message: String)
    /// alsa-lib is not installed.
    case alsaLibraryMissing(MissingLibrary)

    /// What happened and what to do about it.
    public var description: String {
        switch self {
        case .noSuchCamera(let path): "no camera at \(path): check the cable and `foresight devices`"
        case .cameraBusy(let path): "camera \(path) is busy: another program is using it"
        case .cameraPermissionDenied(let path): "no permission to open \(path): add the user to the 'video' group"
        case .notACaptureDevice(let path): "\(path) is not a video capture device"
        case .cameraFormatRejected(let path, let reason): "camera \(path) rejected the format: \(reason)"
        case .cameraGone(let path): "camera \(path) disappeared while streaming"
        case .cameraTimeout(let path, let milliseconds): "no frame from \(path) within \(milliseconds) ms"
        case .cameraSystemCall(let path, let call, let code): "\(call) on \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .conversionLibraryMissing(let path, let offered, let missing): "camera \(path) offers only \(offered.joined(separator: ", ")): \(missing)"
        case .noSuchMicrophone(let name, let message): "no audio device \(name) (\(message)): see `foresight devices`"
        case .microphoneBusy(let name): "audio device \(name) is busy: another program is using it"
        case .microphoneFormatRejected(let name, let reason): "audio device \(name) rejected the format: \(reason)"
        case .microphoneGone(let name): "audio device \(name) disappeared"
        case .alsaCall(let name, let call, let code, let message): "\(call) on \(name) failed: \(message) (\(code))"
        case .alsaLibraryMissing(let missing): missing.description
        }
    }
}
