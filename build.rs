//! Build script: lets napi-build set the linker flags a Node addon needs, and records whether
//! this build is profile-guided (`nativeBuild()`; see scripts/build-native.js).
fn main() {
    napi_build::setup();
    // Cargo hands a build script the rustc flags it compiles with, `\x1f`-separated.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let build = if flags.contains("-Cprofile-use") {
        "pgo"
    } else if flags.contains("-Cprofile-generate") {
        "instrumented"
    } else {
        "plain"
    };
    println!("cargo:rustc-env=ACME_NATIVE_BUILD={build}");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
}
