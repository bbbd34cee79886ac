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
        let width = MethodRegistry.names.map(\.count).max() ?? 0
        let indent = String(repeating: " ", count: width) + "  "
        for method in MethodRegistry.methods {
            let data = " [" + method.dataKinds.map(\.rawValue).joined(separator: ", ") + "]"
            print(method.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + method.summary + data)
            print(indent + method.reference)
            for setting in method.settings {
                print(indent + "--set \(setting.name)=\(setting.format(setting.defaultValue)): \(setting.summary)")
            }
        }
    }
}
