//! The uniffi generator, built from this crate's lock file so the generated Swift and Kotlin
//! always match the scaffolding in the library: `cargo run --bin uniffi-bindgen generate
//! --library <path to libtidepool_uniffi.so> --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
