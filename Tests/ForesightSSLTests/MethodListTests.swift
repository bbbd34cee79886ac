// `foresight methods` lists each implemented method once, with a summary and a reference.

import XCTest
@testable import ForesightSSL

final class MethodListTests: XCTestCase {
    func testMethodsListNamesEachImplementedMethodOnce() {
        let names = SSLMethod.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(Set(names), ["simclr", "vicreg", "autoencoder", "denoising", "rotation"])
        XCTAssert(SSLMethod.all.allSatisfy { !$0.summary.isEmpty && !$0.reference.isEmpty })
    }
}
