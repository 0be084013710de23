//! Embeds every file under `../templates/` into the generator binary, so the
//! runtime the proxies carry is exactly the one in this repository.

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

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../templates")
        .canonicalize()
        .expect("templates/ sits beside mcpo-gen/");
    // Paths relative to the package: the generated code then names no
    // absolute path, and a copy of the repository builds its own templates.
    println!("cargo:rerun-if-changed=../templates");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let mut code = String::from(
        "/// (path relative to templates/, contents)\npub static TEMPLATE_FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, _) in &files {
        println!("cargo:rerun-if-changed=../templates/{relative}");
        code.push_str(&format!(
            "    ({relative:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../templates/{relative}\"))),\n"
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("template_files.rs"), code).expect("OUT_DIR is writable");
}
