// CLIP (audio-visual) as a method: its description and data, and its trainer on a recording
// and the WAV beside it. Not the pairing of frames and sound (AudioVisualData.swift).

import Foundation

/// `clip`: the camera image and the sound of the same moment match, other pairs do not.
struct CLIPMethod: SelfSupervisedMethod {
    let name = "clip"
    let summary = "multi-modal contrastive: the camera image and the sound of the same moment match, the batch's other pairs do not"
    let reference = "Radford et al. Learning Transferable Visual Models From Natural Language Supervision. ICML 2021; Arandjelovic, Zisserman. Look, Listen and Learn. ICCV 2017"
    let dataKinds: [TrainingDataKind] = [.video]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        let path = try videoPath(data)
        guard !path.lowercased().hasSuffix(".mcap") else {
            throw TrainingError.unreadableData(path: path, message: "clip pairs a Y4M video with the WAV recorded beside it; a ROS 2 bag (\(path)) is read by the video methods next-frame, motion and cpc")
        }
        let sound = URL(fileURLWithPath: path).deletingPathExtension().appendingPathExtension("wav").path
        guard FileManager.default.fileExists(atPath: sound) else {
            throw TrainingError.unreadableData(path: sound, message: "clip pairs frames with the sound heard at the same time: it needs \(sound) beside \(path); record both, or choose a video method such as next-frame")
        }
        let pairs = try AudioVisualPairs.recording(videoPath: path, audioPath: sound, height: options.imageSize, width: options.imageSize)
        return try AudioVisualTrainer(pairs: pairs, backbone: smallResNet(options), batch: options.batch, learningRate: options.learningRate,
                                      threads: options.threads, seed: options.seed)
    }
}
