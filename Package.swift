// swift-tools-version:6.1
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
        .library(name: "ForesightIO", targets: ["ForesightIO"]),
        .library(name: "ForesightSensors", targets: ["ForesightSensors"]),
        .library(name: "ForesightSSL", targets: ["ForesightSSL"]),
        .library(name: "ForesightLive", targets: ["ForesightLive"]),
        .library(name: "ForesightExport", targets: ["ForesightExport"]),
        .library(name: "ForesightFleet", targets: ["ForesightFleet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // The live view's web server, its Foxglove WebSocket and its Prometheus metrics; swift-configuration support is not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        // Flower's Fleet API (`--fleet`): gRPC over HTTP/2, its protobuf messages, and the node's ECDSA key and SHA-256 object ids.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    // One-way layers, each using only those above it in this list (ForesightCore.docc's
    // Architecture article gives the reason for each boundary):
    // Core -> NN -> IO -> Sensors -> SSL -> Live -> Export -> Commands -> Serve -> foresight;
    // Fleet needs only Core and, like Serve, is linked only into the executable.
    targets: [
        .target(name: "CAllocationCounter"),
        // int8 micro-kernels in C (Swift cannot emit vpdpbusd or sdot); optimised in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Tensors, kernels, the thread pool.
        .target(name: "ForesightCore", dependencies: ["CKernels"], swiftSettings: numericSettings),
        // Operations, layers, the planner and programs, optimizers, quantization.
        .target(name: "ForesightNN", dependencies: ["ForesightCore"], swiftSettings: numericSettings),
        // System libraries: V4L2 through the kernel's header; libv4l2, alsa-lib, libpng, libzstd,
        // liblz4 and libturbojpeg are opened at run time (dlopen), so building needs none of
        // their -dev packages. `dl` is part of libc from glibc 2.34 on and a library of its own before.
        .target(name: "CRuntimeLibrary", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CV4L2", dependencies: ["CRuntimeLibrary"]),
        .target(name: "CALSA", dependencies: ["CRuntimeLibrary"]),
        .target(name: "CPNG", dependencies: ["CRuntimeLibrary"]),
        .target(name: "CZSTD", dependencies: ["CRuntimeLibrary"]),
        .target(name: "CLZ4", dependencies: ["CRuntimeLibrary"]),
        .target(name: "CTurboJPEG", dependencies: ["CRuntimeLibrary"]),
        // Files: model files and checkpoints, device profiles and board estimates, Y4M, WAV,
        // images, MCAP (its zstd and lz4 chunks) and ROS 2 images (JPEG among them).
        .target(name: "ForesightIO", dependencies: ["ForesightCore", "ForesightNN", "CPNG", "CZSTD", "CLZ4", "CTurboJPEG"],
                swiftSettings: numericSettings),
        // Live inputs: camera, microphone, frame rings, synthetic scenes, recordings replayed, log-mel.
        .target(
            name: "ForesightSensors",
            dependencies: ["ForesightCore", "ForesightIO", "CV4L2", "CALSA"],
            swiftSettings: numericSettings
        ),
        // Self-supervised methods, their trainers (frame prediction and audio CPC included),
        // backbones and probes.
        .target(name: "ForesightSSL", dependencies: ["ForesightCore", "ForesightNN", "ForesightIO", "ForesightSensors"], swiftSettings: numericSettings),
        // Continuous learning from a live source: pacing, replay, evaluation, rollback, checkpoints.
        .target(name: "ForesightLive", dependencies: ["ForesightCore", "ForesightNN", "ForesightIO", "ForesightSensors", "ForesightSSL"], swiftSettings: numericSettings),
        // Encoders leaving the robot: float32 and int8 encoder files, ONNX (the only user of protobuf).
        .target(
            name: "ForesightExport",
            dependencies: ["ForesightCore", "ForesightNN", "ForesightIO", "ForesightSensors", "ForesightSSL", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["ONNX/onnx-trimmed.proto", "ONNX/README.md"],
            swiftSettings: numericSettings
        ),
        // The command line: the root command and its subcommands, each with its options' checks.
        .target(
            name: "ForesightCommands",
            dependencies: [
                "ForesightCore", "ForesightNN", "ForesightIO", "ForesightSensors", "ForesightSSL", "ForesightLive", "ForesightExport", "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The `foresight` program: ForesightCommands parsed and run.
        // The web side of a run (live view, /metrics): only the executable links a web server;
        // ForesightCommands reaches it through `LiveViewHosting`.
        .target(
            name: "ForesightServe",
            dependencies: [
                "ForesightCore", "ForesightLive", "ForesightCommands",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        ),
        // A robot in a Flower federation (`--fleet`): the Fleet API over gRPC, Flower's object tree
        // and .npy arrays written by hand. Its Swift code generated from flwr's .proto files is
        // committed (Generated/generate.py remakes it); the Flower ServerApp beside it is Python.
        .target(
            name: "ForesightFleet",
            dependencies: [
                "ForesightCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Generated/generate.py", "FlowerApp"]
        ),
        .executableTarget(name: "foresight", dependencies: ["ForesightCommands", "ForesightServe", "ForesightFleet"]),
        // Every parser of outside data as a fuzz target (Tests/Fuzz/fuzz.sh builds it with libFuzzer)
        // and, in ordinary builds, the replay of corpora and regression inputs through them.
        .executableTarget(
            name: "foresight-fuzz",
            dependencies: ["ForesightIO", "ForesightExport", "ForesightCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/ForesightFuzz"
        ),
        // Running programs from tests (the foresight tool, the sensor VM).
        .target(name: "ForesightTestSupport", path: "Tests/ForesightTestSupport"),
        .testTarget(name: "ForesightCoreTests", dependencies: ["ForesightCore"]),
        .testTarget(
            name: "ForesightNNTests",
            dependencies: ["ForesightNN", "ForesightIO", "ForesightSensors", "ForesightSSL", "ForesightExport", "CAllocationCounter"],
            resources: [.copy("Fixtures")],
            swiftSettings: numericSettings
        ),
        .testTarget(name: "ForesightIOTests", dependencies: ["ForesightIO", "ForesightNN", "CAllocationCounter", "ForesightTestSupport"]),
        .testTarget(name: "ForesightSensorsTests", dependencies: ["ForesightSensors", "ForesightIO", "CAllocationCounter", "ForesightTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "ForesightSSLTests",
            dependencies: ["ForesightSSL", "ForesightNN", "ForesightIO", "ForesightExport", "CAllocationCounter"],
            resources: [.copy("Fixtures")],
            swiftSettings: numericSettings
        ),
        .testTarget(name: "ForesightLiveTests", dependencies: ["ForesightLive", "ForesightSSL", "ForesightIO", "ForesightSensors", "ForesightTestSupport", "CAllocationCounter"]),
        .testTarget(name: "ForesightExportTests", dependencies: ["ForesightExport", "ForesightLive", "ForesightSSL", "ForesightIO", "ForesightSensors"]),
        .testTarget(name: "ForesightFleetTests", dependencies: ["ForesightFleet", "ForesightCore", "ForesightTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
