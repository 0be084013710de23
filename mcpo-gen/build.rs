//! Embeds the templates (`../templates/`) and the runtime crate's manifest and
//! sources (`../mcpo-runtime/`) into the generator binary, so a vendored
//! runtime is exactly the one in this repository.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, root, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("under the templates root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}

/// `pub static NAME: &[(&str, &str)]`: every file under `../<folder>` (or only
/// those `keep` accepts), as (path relative to the folder, contents).
fn embed(folder: &str, static_name: &str, keep: fn(&str) -> bool, code: &mut String) {
    // Read at run time, not with env!: a build script compiled for a copy of
    // the repository elsewhere (sharing this target dir) must not read that
    // copy's files.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir)
        .join("..")
        .join(folder)
        .canonicalize()
        .unwrap_or_else(|error| panic!("{folder}/ sits beside mcpo-gen/: {error}"));
    println!("cargo:rerun-if-changed=../{folder}");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    code.push_str(&format!(
        "/// (path relative to {folder}/, contents)\npub static {static_name}: &[(&str, &str)] = &[\n"
    ));
    for (relative, _) in files.iter().filter(|(relative, _)| keep(relative)) {
        // Paths relative to the package: the generated code then names no
        // absolute path, and a copy of the repository builds its own files.
        println!("cargo:rerun-if-changed=../{folder}/{relative}");
        code.push_str(&format!(
            "    ({relative:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../{folder}/{relative}\"))),\n"
        ));
    }
    code.push_str("];\n");
}

fn main() {
    let mut code = String::new();
    embed("templates", "TEMPLATE_FILES", |_| true, &mut code);
    // The runtime crate's own manifest and sources, which vendored proxies
    // carry verbatim (not its target/ or anything else beside them).
    embed(
        "mcpo-runtime",
        "RUNTIME_FILES",
        |relative| relative == "Cargo.toml" || relative.starts_with("src/"),
        &mut code,
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("embedded_files.rs"), code).expect("OUT_DIR is writable");
}
