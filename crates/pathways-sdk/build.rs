//! Records the target triple, so a plugin's manifest says what it was built for.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=PATHWAYS_SDK_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
