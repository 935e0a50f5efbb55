// swift-tools-version:5.9
// The Tidepool Swift package: an async/await API (`Tidepool`) over the Rust client, reached
// through uniffi's generated bindings (`TidepoolFFI`, `tidepool_uniffiFFI`). The generated files
// come from bindings/uniffi (scripts/swift-generate.sh).
//
// The native library: with `TidepoolFFI.xcframework` beside this file (Apple platforms; README,
// "Packaging for iOS"), it is that binary target; otherwise `libtidepool_uniffi` is linked from
// the directory given with `-Xlinker -L<dir>` (scripts/test-swift.sh does this on Linux).
import Foundation
import PackageDescription

let xcframework = "TidepoolFFI.xcframework"
let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let hasXCFramework = FileManager.default.fileExists(atPath: here.appendingPathComponent(xcframework).path)

let package = Package(
    name: "Tidepool",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Tidepool", targets: ["Tidepool"]),
        // scripts/bench-swift.sh's side of the comparison with the Rust client.
        .executable(name: "tidepool-swift-bench", targets: ["TidepoolBench"]),
    ],
    targets: [
        // The C declarations of the Rust library's exported functions (and, from the
        // XCFramework, the library itself).
        hasXCFramework
            ? .binaryTarget(name: "tidepool_uniffiFFI", path: xcframework)
            : .systemLibrary(name: "tidepool_uniffiFFI", path: "Sources/tidepool_uniffiFFI"),
        // uniffi's generated Swift: the exported objects and records, one to one.
        .target(
            name: "TidepoolFFI",
            dependencies: ["tidepool_uniffiFFI"],
            path: "Sources/TidepoolFFI",
            linkerSettings: hasXCFramework ? [] : [.linkedLibrary("tidepool_uniffi")]
        ),
        // The API applications use.
        .target(name: "Tidepool", dependencies: ["TidepoolFFI"], path: "Sources/Tidepool"),
        .executableTarget(name: "TidepoolBench", dependencies: ["Tidepool"], path: "Sources/TidepoolBench"),
        .testTarget(name: "TidepoolTests", dependencies: ["Tidepool"], path: "Tests/TidepoolTests"),
    ],
    swiftLanguageVersions: [.v5]
)
