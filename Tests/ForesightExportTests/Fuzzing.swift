// Damaged copies of a model file for the fuzz tests: every third trial truncates it, the others
// flip one to three bits, half of them inside the header where the parser must catch them.

import Foundation
import ForesightCore

/// Writes 300 damaged copies of `bytes` to `path + ".fuzz"` in turn and calls `body` with the
/// trial number and that path. `headerBytes`: how far into the file the header flips reach.
func forEachFuzzedCopy(of bytes: Data, at path: String, headerBytes: Int, random: inout SeededRandom,
                       _ body: (_ trial: Int, _ fuzzed: String) throws -> Void) throws {
    let fuzzed = path + ".fuzz"
    for trial in 0..<300 {
        var mutated = bytes
        if trial % 3 == 0 {
            mutated = bytes.prefix(Int(random.next() % UInt64(bytes.count)))
        } else {
            for _ in 0..<(1 + trial % 3) {
                let limit = trial % 2 == 0 ? min(bytes.count, headerBytes) : bytes.count
                mutated[Int(random.next() % UInt64(limit))] ^= UInt8(1 << (random.next() % 8))
            }
        }
        try mutated.write(to: URL(fileURLWithPath: fuzzed))
        try body(trial, fuzzed)
    }
}
