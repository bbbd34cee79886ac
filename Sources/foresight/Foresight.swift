// The `foresight` command-line tool: one executable, one subcommand per job.

import ArgumentParser

@main
struct Foresight: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foresight",
        abstract: "Self-supervised learning from a robot's own senses, in fixed memory.",
        subcommands: [Learn.self, Train.self, Eval.self, Methods.self, Sample.self, Bench.self, Devices.self, Record.self, Export.self, Inspect.self, Embed.self]
    )
}
