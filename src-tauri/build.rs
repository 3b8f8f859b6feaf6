fn main() {
    // The UI is embedded at compile time; say what to do rather than
    // letting tauri's macro fail on a missing folder.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").exists() {
        println!(
            "cargo::error=the UI is not built: run `cargo xtask ui` (or `npm install && npm run build` in ui/) first"
        );
    }
    println!("cargo::rerun-if-changed=../ui/dist");
    tauri_build::build()
}
