// The audio-visual (CLIP-style) method: the symmetric InfoNCE against a direct formula and by
// finite differences, pairs cut from a Y4M video and its audio (frame times, clear errors for
// lengths and rates that do not fit), the synthetic tone digits, and learning: the loss falls,
// the image encoder's linear probe beats the random encoder, and audio -> image retrieval on
// held-out pairs beats chance by a wide margin, on the tone digits and on a recorded scene.

import Foundation
import XCTest
import CAllocationCounter
import ForesightCore
import ForesightNN
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO

final class CLIPLossTests: XCTestCase {
    func testCLIPLossGradient() throws {
        for temperature: Float in [0.5, 1] {
            let graph = Graph()
            let x = try graph.input("x", [6, 5]), y = try graph.input("y", [6, 4])
            let u = try graph.linear(x, outFeatures: 3, name: "imageProjection")
            let v = try graph.linear(y, outFeatures: 3, name: "audioProjection")
            try checkParameterGradients(graph, loss: try graph.apply(CLIPLossOperation(temperature: temperature), [u, v], name: "loss"))
        }
    }

    /// Forward value and accuracy against the formula in double precision.
    func testCLIPLossMatchesTheFormula() throws {
        let graph = Graph()
        let a = try graph.input("a", [5, 3]), b = try graph.input("b", [5, 3])
        let operation = CLIPLossOperation(temperature: 0.3)
        let loss = try graph.apply(operation, [a, b], name: "loss")
        let program = try Program(graph, loss: loss, optimizer: SGD(learningRate: 0.1))
        var random = SeededRandom(seed: 4)
        let x = (0..<15).map { _ in Double(random.nextFloat(in: -1..<1)) }, y = (0..<15).map { _ in Double(random.nextFloat(in: -1..<1)) }
        for i in 0..<15 { program.tensor(a).floats[i] = Float(x[i]); program.tensor(b).floats[i] = Float(y[i]) }
        program.forward()
        func unit(_ m: [Double], _ i: Int) -> [Double] {
            let row = Array(m[i * 3..<i * 3 + 3]), norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            return row.map { $0 / norm }
        }
        var s = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 5)
        for i in 0..<5 { for j in 0..<5 { s[i][j] = zip(unit(x, i), unit(y, j)).map(*).reduce(0, +) / 0.3 } }
        var expected = 0.0, correct = 0
        for i in 0..<5 {
            let row = s[i], column = s.map { $0[i] }
            expected += log(row.map(exp).reduce(0, +)) - row[i] + log(column.map(exp).reduce(0, +)) - column[i]
            correct += (row.max() == row[i] ? 1 : 0) + (column.max() == column[i] ? 1 : 0)
        }
        XCTAssertEqual(Double(program.lossValue), expected / 10, accuracy: 1e-5)
        XCTAssertEqual(operation.accuracy, Float(correct) / 10)
    }

    func testCLIPLossRefusesMismatchedInputs() throws {
        let graph = Graph()
        let a = try graph.input("a", [4, 3]), b = try graph.input("b", [4, 2]), c = try graph.input("c", [1, 3]), d = try graph.input("d", [1, 3])
        XCTAssertThrowsError(try graph.apply(CLIPLossOperation(), [a, b], name: "mismatch"))
        XCTAssertThrowsError(try graph.apply(CLIPLossOperation(), [c, d], name: "single"))
    }
}

final class AudioVisualDataTests: XCTestCase {
    /// 20 mono 8x8 frames at 10 fps: even frames bright in the top half, odd ones dark; 2 s of
    /// audio where the 0.1 s centred on frame k is a 500 Hz tone for even k, 3 kHz for odd k.
    func recording(frames: Int = 20, audioSeconds: Double = 2, sampleRate: Int = 16_000) -> (Y4MReader, AudioClip) {
        let header = Y4MHeader(width: 8, height: 8, frameRate: (10, 1), chroma: .mono)
        var bytes = Array(header.line.utf8)
        for k in 0..<frames {
            bytes += Array("FRAME\n".utf8)
            bytes += (0..<64).map { $0 < 32 ? (k % 2 == 0 ? 200 : 20) : 100 }
        }
        let count = Int(audioSeconds * Double(sampleRate))
        let samples = (0..<count).map { n -> Float in
            let t = Double(n) / Double(sampleRate)
            let frame = Int((t * 10).rounded()) // the frame whose moment is nearest
            return 0.3 * Float(sin(2 * Double.pi * (frame % 2 == 0 ? 500 : 3000) * t))
        }
        return (try! Y4MReader(bytes: bytes), AudioClip(sampleRate: sampleRate, channels: 1, samples: samples))
    }

    func testRecordingPairsEachFrameWithTheSoundOfItsMoment() throws {
        let (video, audio) = recording()
        let pairs = try AudioVisualPairs.recording(video: video, audio: audio, height: 4, width: 2)
        // Frame 0's window would start before the audio: frames 1...19 remain.
        XCTAssertEqual(pairs.count, 19)
        XCTAssertEqual(pairs.times.first!, 0.1, accuracy: 1e-9)
        XCTAssertEqual(pairs.times.last!, 1.9, accuracy: 1e-9)
        XCTAssertEqual(pairs.audioFrames, 8)
        XCTAssertEqual(pairs.melBands, 40)
        let spectrogram = LogMelSpectrogram()
        func loudestBand(_ hertz: Double) -> Int {
            let tone = (0..<400).map { Float(0.3 * sin(2 * Double.pi * hertz * Double($0) / 16_000)) }
            var bands = [Float](repeating: 0, count: 40)
            spectrogram.frame(tone, into: &bands)
            return bands.indices.max { bands[$0] < bands[$1] }!
        }
        let lowBand = loudestBand(500), highBand = loudestBand(3000)
        for i in 0..<pairs.count {
            let frame = Int((pairs.times[i] * 10).rounded()), even = frame % 2 == 0
            // Box-averaged luma: the top two of four rows are the bright/dark half.
            XCTAssertEqual(pairs.images.pixels[i * 8], Float(even ? 200 : 20) / 255, accuracy: 1e-6)
            XCTAssertEqual(pairs.images.pixels[i * 8 + 7], Float(100) / 255, accuracy: 1e-6)
            // The middle spectrogram frame hears the tone of this video frame.
            let middle = pairs.audio[(i * 8 + 4) * 40..<(i * 8 + 5) * 40].map { $0 }
            if even { XCTAssertGreaterThan(middle[lowBand], middle[highBand] + 3, "pair \(i)") }
            else { XCTAssertGreaterThan(middle[highBand], middle[lowBand] + 3, "pair \(i)") }
        }
    }

    func testRecordingsThatDoNotFitAreErrors() {
        let (video, short) = recording(audioSeconds: 1)
        XCTAssertThrowsError(try AudioVisualPairs.recording(video: video, audio: short, height: 4, width: 4)) {
            XCTAssert("\($0)".contains("video lasts 2.0 s") && "\($0)".contains("audio lasts 1.0 s"), "\($0)")
        }
        let (video2, slow) = recording(sampleRate: 4000)
        XCTAssertThrowsError(try AudioVisualPairs.recording(video: video2, audio: slow, height: 4, width: 4)) {
            XCTAssert("\($0)".contains("4000 Hz"), "\($0)")
        }
        let (video3, audio3) = recording()
        XCTAssertThrowsError(try AudioVisualPairs.recording(video: video3, audio: audio3, height: 4, width: 4, windowSeconds: 0.01)) {
            XCTAssert("\($0)".contains("fewer than one spectrogram window"), "\($0)")
        }
        let (video4, audio4) = recording()
        XCTAssertThrowsError(try AudioVisualPairs.recording(video: video4, audio: audio4, height: 16, width: 4)) {
            XCTAssert("\($0)".contains("cannot be cut"), "\($0)")
        }
        XCTAssertThrowsError(try AudioVisualPairs.recording(videoPath: "/nonexistent.y4m", audioPath: "/nonexistent.wav", height: 4, width: 4))
    }

    func testRecordingFilesAreReadTogether() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-av-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let videoPath = folder.appendingPathComponent("walk.y4m").path
        let writer = try Y4MWriter(path: videoPath, header: Y4MHeader(width: 8, height: 8, frameRate: (10, 1), chroma: .mono))
        for k in 0..<20 { try writer.writeFrame(planes: [UInt8](repeating: UInt8(10 * k), count: 64)) }
        writer.close()
        // Stereo at 8 kHz: mixed to mono and resampled to the spectrogram's 16 kHz.
        let (_, audio) = recording(sampleRate: 8000)
        let stereo = AudioClip(sampleRate: 8000, channels: 2, samples: audio.samples.flatMap { [$0, $0] })
        XCTAssertThrowsError(try AudioVisualPairs.recording(videoPath: videoPath, height: 2, width: 2)) {
            XCTAssert("\($0)".contains("walk.wav"), "\($0)")
        }
        try WAV.write(stereo, to: folder.appendingPathComponent("walk.wav").path)
        let pairs = try AudioVisualPairs.recording(videoPath: videoPath, height: 2, width: 2)
        XCTAssertEqual(pairs.count, 19)
        for i in 0..<pairs.count {
            let frame = Int((pairs.times[i] * 10).rounded())
            XCTAssertEqual(pairs.images.pixels[i * 4], Float(10 * frame) / 255, accuracy: 1e-6)
        }
    }

    func testToneDigitsSoundDependsOnTheClass() {
        let digits = Digits.all.subset(Array(0..<200))
        let pairs = AudioVisualPairs.toneDigits(digits, seed: 3)
        XCTAssertEqual(pairs.count, 200)
        XCTAssertEqual(pairs.audioSize, 8 * 40)
        XCTAssertEqual(AudioVisualPairs.toneDigits(digits, seed: 3).audio, pairs.audio)
        // Nearest neighbour by audio alone finds a pair of the same class far more often than 1 in 10.
        var same = 0
        for i in 0..<pairs.count {
            var best = -1, bestDistance = Float.infinity
            for j in 0..<pairs.count where j != i {
                var d: Float = 0
                for k in 0..<pairs.audioSize { let e = pairs.audio[i * pairs.audioSize + k] - pairs.audio[j * pairs.audioSize + k]; d += e * e }
                if d < bestDistance { bestDistance = d; best = j }
            }
            if digits.labels[best] == digits.labels[i] { same += 1 }
        }
        XCTAssertGreaterThan(Double(same) / 200, 0.8)
    }
}

final class AudioVisualMethodTests: XCTestCase {
    func testAudioVisualLearnsDigitsAndRetrievesHeldOutPairs() throws {
        let (train, test) = Digits.split
        let trainPairs = AudioVisualPairs.toneDigits(train, seed: 1), testPairs = AudioVisualPairs.toneDigits(test, seed: 2)
        let backbone = SmallResNet(width: 16)
        let trainer = try AudioVisualTrainer(pairs: trainPairs, backbone: backbone, batch: 64, seed: 1)
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        XCTAssertEqual(encoder.copyParameters(from: trainer.program), encoder.program.parameters.count)
        let probe = LinearProbe()
        let randomAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let randomRetrieval = trainer.retrieval(testPairs)
        let steps = 150
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(try trainer.step()) }
        encoder.copyParameters(from: trainer.program)
        let trainedAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let retrieval = trainer.retrieval(testPairs)
        let window = steps / 10
        let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
        print("clip: loss \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy)), held-out audio->image top-1 of 64: exact \(retrieval.exact), same class \(retrieval.sameClass) (random encoder \(randomRetrieval.exact), \(randomRetrieval.sameClass); chance 1/64 and about 0.1)")
        XCTAssertLessThan(late, 0.8 * early)
        XCTAssertGreaterThan(trainedAccuracy, randomAccuracy + 0.01)
        XCTAssertGreaterThan(retrieval.exact, 4.0 / 64)
        XCTAssertGreaterThan(retrieval.sameClass, 0.5)
    }

    /// A recorded scene: a bright square wanders left and right in 16x16 mono video at 10 fps,
    /// and what is heard around each frame is a tone whose pitch follows the square's column.
    func wanderingSquare(seconds: Int, seed: UInt64) throws -> AudioVisualPairs {
        let frames = 10 * seconds, rate = 16_000
        var random = SeededRandom(seed: seed)
        var columns: [Int] = [], column = 6
        for _ in 0..<frames { column = min(12, max(0, column + random.nextInt(below: 5) - 2)); columns.append(column) }
        let header = Y4MHeader(width: 16, height: 16, frameRate: (10, 1), chroma: .mono)
        var bytes = Array(header.line.utf8)
        for k in 0..<frames {
            bytes += Array("FRAME\n".utf8)
            bytes += (0..<256).map { ($0 / 16 >= 6 && $0 / 16 < 10 && $0 % 16 >= columns[k] && $0 % 16 < columns[k] + 4) ? 230 : 30 }
        }
        var phase: Float = 0
        let samples = (0..<frames * rate / 10).map { n -> Float in
            let k = min(frames - 1, Int((Float(n) / Float(rate) * 10).rounded())) // the frame whose moment is nearest
            phase += 2 * .pi * (300 + 150 * Float(columns[k])) / Float(rate)
            return 0.3 * sinf(phase) + 0.02 * random.nextGaussian()
        }
        return try AudioVisualPairs.recording(video: try Y4MReader(bytes: bytes), audio: AudioClip(sampleRate: rate, channels: 1, samples: samples),
                                              height: 8, width: 8)
    }

    func testAudioVisualLearnsFromARecording() throws {
        let train = try wanderingSquare(seconds: 30, seed: 1), heldOut = try wanderingSquare(seconds: 10, seed: 2)
        let trainer = try AudioVisualTrainer(pairs: train, backbone: SmallResNet(width: 8), batch: 32, seed: 1)
        let before = trainer.retrieval(heldOut)
        var losses: [Float] = []
        for _ in 0..<100 { losses.append(try trainer.step()) }
        let after = trainer.retrieval(heldOut)
        let early = losses.prefix(10).reduce(0, +) / 10, late = losses.suffix(10).reduce(0, +) / 10
        print("clip on a recording: loss \(early) -> \(late), held-out audio->image top-1 of 32: \(after.exact) (before training \(before.exact); chance 1/32)")
        XCTAssertLessThan(late, 0.8 * early)
        XCTAssertGreaterThan(after.exact, 4.0 / 32)
    }

    func testAudioVisualStepAllocatesNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let pairs = AudioVisualPairs.toneDigits(Digits.all.subset(Array(0..<100)), seed: 1)
        let trainer = try AudioVisualTrainer(pairs: pairs, backbone: SmallResNet(width: 8), batch: 16, seed: 2)
        try trainer.step()
        // Every window of 10 crosses a reshuffle (100 / 16 batches per pass).
        let allocations = try fewestAllocations { try trainer.step() }
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 audio-visual steps")
    }

    func testTooFewPairsForABatchIsAnError() {
        let pairs = AudioVisualPairs.toneDigits(Digits.all.subset(Array(0..<10)))
        XCTAssertThrowsError(try AudioVisualTrainer(pairs: pairs, batch: 16)) { XCTAssert("\($0)".contains("10 pairs"), "\($0)") }
    }
}
