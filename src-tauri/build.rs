fn main() {
    // The UI is embedded at compile time; say what to do rather than
    // letting tauri's macro fail on a missing folder.
    // Read at run time, not with env!(): cargo reuses a compiled build
    // script across checkouts of the same workspace in one target folder.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dist = std::path::Path::new(&manifest_dir).join("../ui/dist");
    if !dist.join("index.html").exists() {
        println!(
            "cargo::error=the UI is not built: run `cargo xtask ui` (or `npm install && npm run build` in ui/) first"
        );
    }
    println!("cargo::rerun-if-changed=../ui/dist");
    tauri_build::build()
}
