// swift-tools-version:6.0
// SampleCore: the Foundation-only logic of the iOS samples (the keyboard extension's glue of the
// shared Rust controller KeyboardCore, the Reply app's controller), shared by both apps, tested on Linux on the real model
// (`make test-swift`), and driven by the keyboard simulator `SampleSim`
// (`scripts/sample-sim.sh swift`). The behaviour contract is docs/samples.md.
//
// Linking on Linux: like ../../../ios, pass the directory of libpocketlm_ffi to the linker, e.g.
//   swift test -Xlinker -L../../../target/debug
import PackageDescription

let package = Package(
    name: "SampleCore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "SampleCore", targets: ["SampleCore"]),
        .executable(name: "SampleSim", targets: ["SampleSim"]),
    ],
    dependencies: [
        .package(path: "../../../ios"),
    ],
    targets: [
        // The keyboard glue, the Reply controller and their data: no UIKit, no SwiftUI.
        .target(
            name: "SampleCore",
            dependencies: [.product(name: "PocketLM", package: "ios")]
        ),
        // The keyboard simulator: JSON-lines events in, one state line per event out.
        .executableTarget(
            name: "SampleSim",
            dependencies: ["SampleCore"]
        ),
        .testTarget(
            name: "SampleCoreTests",
            dependencies: ["SampleCore", .product(name: "PocketLM", package: "ios")]
        ),
    ]
)
