//! Local container images without a registry: `FROM scratch` with the binary and the shared
//! libraries it links (found with `ldd`), so no base image is pulled.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The images: tag, binary, Dockerfile.
pub const IMAGES: &[(&str, &str, &str)] = &[
    ("localhost/jwtgate:dev", "jwtgate", "e2e/docker/jwtgate.Dockerfile"),
    ("localhost/kube-sim:dev", "kube-sim", "e2e/docker/kube-sim.Dockerfile"),
];

/// Lays out `target/images/<binary>/` (Dockerfile, `rootfs/` with the stripped binary, its
/// libraries and the loader) for every image; returns the context directories.
pub fn prepare(repo: &Path, bin_dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut contexts = Vec::new();
    for (tag, binary, dockerfile) in IMAGES {
        let context = repo.join("target/images").join(binary);
        let rootfs = context.join("rootfs");
        let _ = std::fs::remove_dir_all(&context);
        std::fs::create_dir_all(rootfs.join("tmp")).map_err(|e| e.to_string())?;
        let source = bin_dir.join(binary);
        let target = rootfs.join(binary);
        run(Command::new("objcopy").arg("--strip-debug").arg(&source).arg(&target))?;
        for library in shared_libraries(&source)? {
            let inside = rootfs.join(library.strip_prefix("/").map_err(|e| e.to_string())?);
            std::fs::create_dir_all(inside.parent().expect("library in a directory")).map_err(|e| e.to_string())?;
            std::fs::copy(&library, &inside).map_err(|e| format!("cannot copy {}: {e}", library.display()))?;
        }
        std::fs::copy(repo.join(dockerfile), context.join("Dockerfile")).map_err(|e| e.to_string())?;
        contexts.push((tag.to_string(), context));
    }
    Ok(contexts)
}

/// Prepares and builds every image with `docker build`.
pub fn build(repo: &Path, bin_dir: &Path) -> Result<(), String> {
    for (tag, context) in prepare(repo, bin_dir)? {
        run(Command::new("docker").args(["build", "-q", "-t", &tag]).arg(&context))?;
        eprintln!("images: built {tag}");
    }
    Ok(())
}

/// The absolute paths `ldd` resolves for `binary`, the dynamic loader included.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd").arg(binary).output().map_err(|e| format!("cannot run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .filter_map(|line| line.split_whitespace().find(|word| word.starts_with('/')))
        .map(PathBuf::from)
        .collect())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
    }
}
