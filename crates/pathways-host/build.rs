//! Records the target triple, so the host can refuse a plugin built for another.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=PATHWAYS_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
