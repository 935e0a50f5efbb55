// swift-tools-version:5.9
// The Tidepool Swift package: an async/await API (`Tidepool`) over the Rust client, reached
// through uniffi's generated bindings (`TidepoolFFI`, `tidepool_uniffiFFI`). The generated files
// come from bindings/uniffi (scripts/swift-generate.sh); the native library
// `libtidepool_uniffi` is linked from the directory given with `-Xlinker -L<dir>` (see
// scripts/test-swift.sh), or, for iOS, replaced by an XCFramework (README, "Swift").
import PackageDescription

let package = Package(
    name: "Tidepool",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Tidepool", targets: ["Tidepool"])
    ],
    targets: [
        // The C declarations of the Rust library's exported functions.
        .systemLibrary(name: "tidepool_uniffiFFI", path: "Sources/tidepool_uniffiFFI"),
        // uniffi's generated Swift: the exported objects and records, one to one.
        .target(
            name: "TidepoolFFI",
            dependencies: ["tidepool_uniffiFFI"],
            path: "Sources/TidepoolFFI",
            linkerSettings: [.linkedLibrary("tidepool_uniffi")]
        ),
        // The API applications use.
        .target(name: "Tidepool", dependencies: ["TidepoolFFI"], path: "Sources/Tidepool"),
        .testTarget(name: "TidepoolTests", dependencies: ["Tidepool"], path: "Tests/TidepoolTests"),
    ],
    swiftLanguageVersions: [.v5]
)
