//! `jwtgate-e2e`: what `cargo xtask e2e` runs.

use jwtgate_e2e::{images, kind_available, run, Options};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: jwtgate-e2e [--kind|--sim] [--keep] [--filter PAT] [--dry-run] [--work DIR]
       jwtgate-e2e images        build localhost/jwtgate:dev and localhost/kube-sim:dev
  --kind      kind clusters (the default when kind, docker and kubectl all work)
  --sim       kube-sim clusters (the default otherwise)
  --keep      leave the clusters running
  --filter    run only the scenarios whose name contains PAT
  --dry-run   print the commands instead of running them
  --work DIR  kubeconfigs, logs and transcripts                   [target/e2e]
";

fn main() -> ExitCode {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e/ is in the repository").to_owned();
    let bin_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default();
    let mut options = Options { repo: repo.clone(), work: repo.join("target/e2e"), bin_dir, ..Options::default() };
    let (mut kind, mut sim) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "images" => {
                return match images::build(&options.repo, &options.bin_dir) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("images: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            "--kind" => kind = true,
            "--sim" => sim = true,
            "--keep" => options.keep = true,
            "--dry-run" => options.dry_run = true,
            "--filter" => options.filter = args.next(),
            "--work" => options.work = args.next().map(PathBuf::from).unwrap_or(options.work),
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("jwtgate-e2e: unknown argument {other:?}\n{USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    if kind && sim {
        eprintln!("jwtgate-e2e: --kind and --sim exclude each other");
        return ExitCode::FAILURE;
    }
    options.kind = kind || (!sim && !options.dry_run && kind_available());
    if kind && !options.dry_run && !kind_available() {
        eprintln!("jwtgate-e2e: --kind needs kind, a running Docker engine and kubectl");
        return ExitCode::FAILURE;
    }
    if !options.dry_run {
        let tools: [(&str, &[&str]); 2] = [("kubectl", &["version", "--client"]), ("curl", &["--version"])];
        let missing: Vec<&str> = tools
            .into_iter()
            .filter(|(tool, args)| {
                let mut command = std::process::Command::new(tool);
                command.args(*args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
                !command.status().is_ok_and(|s| s.success())
            })
            .map(|(tool, _)| tool)
            .collect();
        if !missing.is_empty() {
            if std::env::var("CI").as_deref() == Ok("true") {
                eprintln!("e2e: {missing:?} required in CI but not installed");
                return ExitCode::FAILURE;
            }
            eprintln!("SKIPPED: the e2e scenarios need {missing:?}; install them to run `cargo xtask e2e`");
            return ExitCode::SUCCESS;
        }
    }
    eprintln!("e2e: {} path", if options.kind { "kind" } else { "kube-sim" });
    match run(&options) {
        Ok((passed, _)) if options.dry_run => {
            println!("# dry run: {passed} scenarios printed, none run");
            ExitCode::SUCCESS
        }
        Ok((passed, failed)) => {
            println!("e2e: {passed} passed, {} failed", failed.len());
            if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}
