//! `cargo xtask e2e`: jwtgate's end-to-end scenarios on kind clusters (when Docker, kind and
//! kubectl work) or on kube-sim clusters, one scenario code base for both; and the local
//! container images.

pub mod cluster;
pub mod images;
pub mod jwtgate;
pub mod run;
pub mod scenarios;

use cluster::{Cluster, CLUSTERS};
use run::Runner;
use std::path::PathBuf;

/// What the scenarios share: the command runner, the three clusters and the work directory.
pub struct Env {
    pub runner: Runner,
    pub clusters: Vec<Cluster>,
    pub work: PathBuf,
    pub repo: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// kind clusters instead of simulated ones.
    pub kind: bool,
    /// Leave the clusters running.
    pub keep: bool,
    /// Run only scenarios whose name contains this.
    pub filter: Option<String>,
    /// Print the commands instead of running them.
    pub dry_run: bool,
    pub repo: PathBuf,
    /// `target/e2e`.
    pub work: PathBuf,
    /// Where `jwtgate` and `kube-sim` are.
    pub bin_dir: PathBuf,
}

/// Whether kind can run here: `kind`, `docker` (with a daemon) and `kubectl` all answer.
pub fn kind_available() -> bool {
    let works = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    works("kind", &["version"]) && works("docker", &["info"]) && works("kubectl", &["version", "--client"])
}

/// Sets up the clusters, runs the scenarios, tears down; returns (passed, failed names).
pub fn run(options: &Options) -> Result<(usize, Vec<String>), String> {
    std::fs::create_dir_all(&options.work).map_err(|e| format!("cannot create {}: {e}", options.work.display()))?;
    let binaries = ["jwtgate", "kube-sim"].iter().map(|b| (b.to_string(), options.bin_dir.join(b))).collect();
    let runner = Runner::new(options.dry_run, binaries);
    let mut env = Env { runner, clusters: Vec::new(), work: options.work.clone(), repo: options.repo.clone() };
    let setup = (|| {
        for (name, config) in CLUSTERS {
            let cluster = if options.kind {
                Cluster::create_kind(&mut env.runner, &options.repo, &options.work, name, config)?
            } else {
                Cluster::start_sim(&mut env.runner, &options.work, name, config)?
            };
            env.clusters.push(cluster);
        }
        Ok::<(), String>(())
    })();
    let mut passed = 0;
    let mut failed = Vec::new();
    match setup {
        Err(e) => {
            eprintln!("e2e: cluster set-up failed: {e}");
            failed.push("set-up".to_string());
        }
        Ok(()) => {
            for (name, scenario) in scenarios::SCENARIOS {
                if options.filter.as_deref().is_some_and(|f| !name.contains(f)) {
                    continue;
                }
                if options.dry_run {
                    println!("# scenario {name}");
                }
                let result = scenario(&mut env);
                let transcript = env.runner.take_transcript();
                let _ = std::fs::write(options.work.join(format!("{name}.transcript")), run::redact(&transcript));
                match result {
                    Ok(()) => {
                        passed += 1;
                        eprintln!("e2e: {name} ... ok");
                    }
                    Err(e) => {
                        eprintln!("e2e: {name} ... FAILED\n{}", run::redact(&e));
                        for cluster in &env.clusters {
                            cluster.export_logs(&mut env.runner, &options.work);
                        }
                        failed.push(name.to_string());
                    }
                }
            }
        }
    }
    if !options.keep {
        for cluster in &mut env.clusters {
            cluster.teardown(&mut env.runner);
        }
    } else {
        for cluster in &mut env.clusters {
            cluster.detach();
            eprintln!(
                "e2e: --keep: cluster {} left running: kubectl --kubeconfig {}",
                cluster.name,
                cluster.kubeconfig.display()
            );
        }
        if options.kind {
            eprintln!("e2e: delete them with `kind delete cluster --name jwtgate-e2e-<a|b|c>`");
        } else {
            eprintln!("e2e: stop them with `pkill -f 'kube-sim --name sim-'`");
        }
    }
    if !failed.is_empty() {
        eprintln!("e2e: logs and transcripts are in {}", options.work.display());
    }
    Ok((passed, failed))
}
