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

    @Option(parsing: .unconditional, help: "Bytes to generate.")
    var bytes = 200

    @Option(parsing: .unconditional, help: "Sampling temperature (0: the most likely byte each time).")
    var temperature: Float = 0.8

    @Option(parsing: .unconditional, help: "Seed of the sampling.")
    var seed: UInt64 = 0

    func validate() throws {
        guard !prompt.isEmpty else { throw ValidationError("--prompt must hold at least one byte") }
        try OptionRange.check(bytes, "--bytes", 1...10_000_000)
        try OptionRange.check(Double(temperature), "--temperature", 0...100)
    }

    func run() throws {
        let gpt = try GPTTrainer.load(modelFile: model)
        let continuation = gpt.sample(prompt: Array(prompt.utf8), count: bytes, temperature: temperature, seed: seed)
        print(prompt + String(decoding: continuation, as: UTF8.self))
    }
}
