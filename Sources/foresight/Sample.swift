// `foresight sample`: continues a prompt with a GPT model file written by
// `foresight train --method gpt`. Not a chat: bytes in, bytes out.

import ArgumentParser
import ForesightSSL

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a text with a GPT model trained by `foresight train --method gpt`.",
        discussion: """
            foresight train --method gpt --data notes.txt --steps 3000 -o gpt.safetensors
            foresight sample gpt.safetensors --prompt "The robot " --bytes 300 --temperature 0.8
            Temperature 0 always takes the most likely byte; higher values take more chances.
            """
    )

    @Argument(help: "A model file written by `foresight train --method gpt`.")
    var model: String

    @Option(help: "The text to continue.")
    var prompt = "The "

    @Option(help: "Bytes to generate.")
    var bytes = 200

    @Option(help: "Sampling temperature (0: the most likely byte each time).")
    var temperature: Float = 0.8

    @Option(help: "Seed of the sampling.")
    var seed: UInt64 = 0

    func validate() throws {
        guard !prompt.isEmpty else { throw ValidationError("--prompt must hold at least one byte") }
        guard bytes >= 1 else { throw ValidationError("--bytes must be at least 1 (got \(bytes))") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more (got \(temperature))") }
    }

    func run() throws {
        let gpt = try GPTTrainer.load(modelFile: model)
        let continuation = gpt.sample(prompt: Array(prompt.utf8), count: bytes, temperature: temperature, seed: seed)
        print(prompt + String(decoding: continuation, as: UTF8.self))
    }
}
