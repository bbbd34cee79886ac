// `foresight methods`: every self-supervised method by its short name, with what it learns
// from, the data it trains on, the paper it follows and its settings with their defaults. Not documentation: see the DocC pages.

import ArgumentParser
import ForesightSSL

struct Methods: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the self-supervised methods `foresight train --method` knows.",
        discussion: "foresight methods"
    )

    func run() throws {
        let width = SSLMethod.all.map(\.name.count).max() ?? 0
        for method in SSLMethod.all {
            let data = (try? MethodRegistry.entry(method.name).kinds).map { " [" + $0.map(\.rawValue).joined(separator: ", ") + "]" } ?? ""
            print(method.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + method.summary + data)
            print(String(repeating: " ", count: width) + "  " + method.reference)
            for setting in (try? MethodRegistry.entry(method.name).settings) ?? [] {
                print(String(repeating: " ", count: width) + "  --set \(setting.name)=\(setting.format(setting.defaultValue)): \(setting.summary)")
            }
        }
        // Trainable methods whose description is not in SSLMethod.all yet: name and data only.
        for entry in MethodRegistry.entries where SSLMethod.named(entry.name) == nil {
            print(entry.name.padding(toLength: max(width, entry.name.count), withPad: " ", startingAt: 0) + "  [" + entry.kinds.map(\.rawValue).joined(separator: ", ") + "]")
        }
    }
}
