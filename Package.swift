// swift-tools-version: 6.0
// Foresight: on-device self-supervised learning for small robots.
import PackageDescription

// Kernels are the product's speed. Release builds compile the numeric modules for the CPU
// they are built on (`-target-cpu native`: AVX-512/AVX2+FMA on x86-64, NEON and, on a
// Raspberry Pi 5, the dot-product instructions on aarch64). Set FORESIGHT_TARGET_CPU to
// build for another CPU (for example `x86-64-v3` or `cortex-a72`) when the binary is
// copied to a different machine. Debug builds optimise the numeric modules too, so that
// `swift test` trains models in seconds; the rest of the package stays debuggable.
let targetCPU = Context.environment["FORESIGHT_TARGET_CPU"] ?? "native"
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", targetCPU], .when(configuration: .release)),
    .unsafeFlags(["-O", "-target-cpu", targetCPU], .when(configuration: .debug)),
]

let package = Package(
    name: "Foresight",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "foresight", targets: ["foresight"]),
        .library(name: "ForesightCore", targets: ["ForesightCore"]),
        .library(name: "ForesightNN", targets: ["ForesightNN"]),
        .library(name: "ForesightSensors", targets: ["ForesightSensors"]),
        .library(name: "ForesightLearn", targets: ["ForesightLearn"]),
        .library(name: "ForesightSSL", targets: ["ForesightSSL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(name: "CAllocationCounter"),
        // int8 micro-kernels in C (Swift cannot emit vpdpbusd or sdot); optimised in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "ForesightCore", dependencies: ["CKernels"], swiftSettings: numericSettings),
        .target(name: "ForesightNN", dependencies: ["ForesightCore"], swiftSettings: numericSettings),
        // Sensors: V4L2 through the kernel's header; libv4l2, alsa-lib and libpng are opened at
        // run time (dlopen), so building needs none of their -dev packages. `dl` is part of
        // libc from glibc 2.34 on and a library of its own before.
        .target(name: "CV4L2", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CALSA", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "ForesightSensors",
            dependencies: ["ForesightCore", "CV4L2", "CALSA", "CPNG"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "ForesightLearn",
            dependencies: ["ForesightCore", "ForesightNN", "ForesightSensors", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["ONNX/onnx-trimmed.proto", "ONNX/README.md"],
            swiftSettings: numericSettings
        ),
        // Self-supervised methods, backbones and probes (issue 6).
        .target(name: "ForesightSSL", dependencies: ["ForesightCore", "ForesightNN", "ForesightSensors", "ForesightLearn"], swiftSettings: numericSettings),
        .executableTarget(
            name: "foresight",
            dependencies: [
                "ForesightCore", "ForesightNN", "ForesightSensors", "ForesightLearn", "ForesightSSL", "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ForesightCoreTests", dependencies: ["ForesightCore"]),
        .testTarget(name: "ForesightLearnTests", dependencies: ["ForesightLearn", "ForesightSensors"]),
        .testTarget(
            name: "ForesightNNTests",
            dependencies: ["ForesightNN", "ForesightSensors", "ForesightLearn", "CAllocationCounter"],
            resources: [.copy("Fixtures")],
            swiftSettings: numericSettings
        ),
        .testTarget(name: "ForesightSensorsTests", dependencies: ["ForesightSensors", "CAllocationCounter"], exclude: ["Fixtures"]),
        .testTarget(
            name: "ForesightSSLTests",
            dependencies: ["ForesightSSL", "ForesightNN", "CAllocationCounter"],
            resources: [.copy("Fixtures")],
            swiftSettings: numericSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
