// `foresight learn --record-mcap`: the run written as it goes into an MCAP file that Foxglove
// opens without configuration. A thread of its own reads the learner's `LivePublication` (the
// learner never waits for it, as for any viewer) and writes each new set of images and, about
// once a second, the run's numbers, as `FoxgloveMessages` encodes them.

import Foundation
import ForesightCore
import ForesightIO

/// Records a publication into an MCAP file until `finish`.
public final class LiveRecording: @unchecked Sendable {
    private let publication: LivePublication
    private let writer: MCAPWriter
    private var imageChannels: [UInt16] = []
    private var metricsChannel: UInt16 = 0
    private let recorder = StoppableThread(name: "foresight.mcap")
    private let outcome = Locked<(sets: Int, metrics: Int, error: IOError?)>((0, 0, nil))

    /// Creates the file and starts recording.
    public init(_ publication: LivePublication, path: String) throws(IOError) {
        self.publication = publication
        writer = try MCAPWriter(path: path)
        let image = try writer.addSchema(name: FoxgloveMessages.imageSchemaName, encoding: "jsonschema", data: Array(FoxgloveMessages.rawImageSchema.utf8))
        let metrics = try writer.addSchema(name: FoxgloveMessages.metricsSchemaName, encoding: "jsonschema", data: Array(FoxgloveMessages.metricsSchema.utf8))
        for topic in FoxgloveMessages.imageTopics(publication) {
            imageChannels.append(try writer.addChannel(topic: topic, schema: image, messageEncoding: "json"))
        }
        metricsChannel = try writer.addChannel(topic: FoxgloveMessages.metricsTopic, schema: metrics, messageEncoding: "json")
        recorder.start { [self] in record() }
    }

    /// Stops recording and completes the file: image sets and metrics messages written.
    @discardableResult
    public func finish() throws(IOError) -> (imageSets: Int, metrics: Int) {
        recorder.stop()
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
                let stopping = recorder.stopRequested.isOpen
                let version = publication.readImages(into: &planes)
                let now = FoxgloveMessages.wallClockNanoseconds()
                if version != lastVersion {
                    lastVersion = version
                    try writeImages(planes, at: now)
                }
                if stopping || now - lastMetrics >= 1_000_000_000 {
                    lastMetrics = now
                    try writeMetrics(at: now)
                }
                if stopping { break }
                recorder.stopRequested.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000)
            }
        } catch let error as IOError {
            outcome.withLock { $0.error = error }
        } catch {
            outcome.withLock { $0.error = IOError.file("MCAP", .io, at: 0, "\(error)") }
        }
    }

    private func writeImages(_ planes: [Float], at time: UInt64) throws {
        for (panel, channel) in imageChannels.enumerated() {
            try writer.write(channel: channel, logTime: time, data: FoxgloveMessages.image(planes, panel: panel, of: publication, time: time))
        }
        outcome.withLock { $0.sets += 1 }
    }

    private func writeMetrics(at time: UInt64) throws {
        try writer.write(channel: metricsChannel, logTime: time, data: FoxgloveMessages.metrics(publication.read().status, time: time))
        outcome.withLock { $0.metrics += 1 }
    }
}
