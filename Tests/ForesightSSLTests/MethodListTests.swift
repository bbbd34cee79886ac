// `foresight methods` lists each implemented method once, with a summary and a reference.

import XCTest
@testable import ForesightSSL

final class MethodListTests: XCTestCase {
    func testMethodsListNamesEachImplementedMethodOnce() {
        let names = SSLMethod.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        // The list, and exactly the methods `foresight train --method` can build.
        XCTAssertEqual(Set(names), ["simclr", "moco", "byol", "simsiam", "vicreg", "barlow", "mae", "bert", "gpt", "cpc", "jepa",
                                    "next-frame", "motion", "autoencoder", "denoising", "rotation", "jigsaw", "inpainting", "clip"])
        XCTAssertEqual(Set(MethodRegistry.entries.map(\.name)), Set(names))
        XCTAssert(SSLMethod.all.allSatisfy { !$0.summary.isEmpty && !$0.reference.isEmpty })
    }
}
