//! The clusters scenarios run against: the same three roles on both paths.
//! - `a`: issuer discovery; its issuer and JWKS URI are reachable from the host.
//! - `b`, `c`: stock clusters sharing the stock issuer string, for public-key chaining.
//!
//! On kind they are real clusters (`e2e/kind/*.yaml`); on the sim path they are `kube-sim`
//! processes. Everything a scenario does goes through `kubectl` with the cluster's
//! kubeconfig, except the few things kubectl cannot do, which differ by backend below.

use crate::run::{Cmd, Runner};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pinned node image (kind v0.29.0's default for Kubernetes 1.33).
pub const KIND_NODE_IMAGE: &str =
    "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f";
/// The issuer every stock kubeadm/kind cluster has.
pub const STOCK_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The three cluster roles and their configurations.
pub const CLUSTERS: [(&str, &str); 3] = [("a", "discovery"), ("b", "stock"), ("c", "stock")];

pub enum Backend {
    Sim { child: Option<Child>, log: PathBuf },
    Kind { cluster: String },
}

pub struct Cluster {
    /// `a`, `b` or `c`.
    pub name: String,
    pub kubeconfig: PathBuf,
    backend: Backend,
}

impl Cluster {
    /// Starts a kube-sim process for `name` with the configuration `kind`.
    pub fn start_sim(runner: &mut Runner, work: &Path, name: &str, config: &str) -> Result<Cluster, String> {
        let kubeconfig = work.join(format!("{name}.kubeconfig"));
        let log = work.join(format!("kube-sim-{name}.log"));
        let mut cmd = Cmd::new("kube-sim", &["--name", &format!("sim-{name}"), "--kubeconfig"]).arg(path(&kubeconfig));
        if config == "stock" {
            cmd = cmd.arg("--issuer").arg(STOCK_ISSUER);
        }
        let mut cluster = Cluster {
            name: name.into(),
            kubeconfig: kubeconfig.clone(),
            backend: Backend::Sim { child: None, log: log.clone() },
        };
        runner.background(&cmd);
        if runner.dry_run {
            return Ok(cluster);
        }
        let _ = std::fs::remove_file(&kubeconfig);
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(runner.binary("kube-sim"))
            .args(&cmd.args)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start kube-sim: {e}"))?;
        cluster.backend = Backend::Sim { child: Some(child), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !kubeconfig.exists() {
            if Instant::now() > deadline {
                return Err(format!("kube-sim {name} did not start: {}", cluster.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(cluster)
    }

    /// Creates kind cluster `jwtgate-e2e-<name>` from `e2e/kind/<config>.yaml`.
    pub fn create_kind(
        runner: &mut Runner,
        repo: &Path,
        work: &Path,
        name: &str,
        config: &str,
    ) -> Result<Cluster, String> {
        let cluster_name = format!("jwtgate-e2e-{name}");
        let kubeconfig = work.join(format!("{name}.kubeconfig"));
        let config_file = repo.join(format!("e2e/kind/{config}.yaml"));
        runner.ok(&Cmd::new(
            "kind",
            &["create", "cluster", "--name", &cluster_name, "--image", KIND_NODE_IMAGE, "--config"],
        )
        .arg(path(&config_file))
        .arg("--kubeconfig")
        .arg(path(&kubeconfig))
        .arg("--wait")
        .arg("180s"))?;
        let cluster = Cluster { name: name.into(), kubeconfig, backend: Backend::Kind { cluster: cluster_name } };
        // The default service account appears shortly after the control plane is ready.
        cluster.retry(runner, &["get", "serviceaccount", "default"], Duration::from_secs(120))?;
        Ok(cluster)
    }

    pub fn is_kind(&self) -> bool {
        matches!(self.backend, Backend::Kind { .. })
    }

    /// `kubectl --kubeconfig <this cluster> ARGS`.
    pub fn kubectl(&self, args: &[&str]) -> Cmd {
        Cmd::new("kubectl", &["--kubeconfig", &path(&self.kubeconfig)]).args_from(args)
    }

    /// Runs a kubectl command until it succeeds or `limit` passes.
    pub fn retry(&self, runner: &mut Runner, args: &[&str], limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            match runner.ok(&self.kubectl(args)) {
                Ok(out) => return Ok(out),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_secs(2)),
            }
        }
    }

    /// Creates a pod from a manifest file (through the raw API, which both backends serve).
    pub fn create_pod(&self, runner: &mut Runner, manifest: &Path) -> Result<(), String> {
        runner
            .ok(&self.kubectl(&["create", "--raw", "/api/v1/namespaces/default/pods", "-f"]).arg(path(manifest)))
            .map(drop)
    }

    pub fn delete_pod(&self, runner: &mut Runner, pod: &str) -> Result<(), String> {
        runner.ok(&self.kubectl(&["delete", "pod", pod, "--wait=true", "--timeout=180s"])).map(drop)
    }

    /// The token kubelet projects into `pod` from `e2e/manifests/pod.json`'s volume
    /// (audience `vault`, 600 s). On kind it is read from the running pod; the simulator has
    /// no kubelet, so the same TokenRequest kubelet makes is made with kubectl.
    pub fn projected_token(&self, runner: &mut Runner, pod: &str) -> Result<String, String> {
        if self.is_kind() {
            runner.ok(&self.kubectl(&["wait", "--for=condition=Ready", &format!("pod/{pod}"), "--timeout=300s"]))?;
            return runner.ok(&self.kubectl(&["exec", pod, "--", "cat", "/var/run/secrets/tokens/vault-token"]));
        }
        runner.ok(&self.kubectl(&[
            "create",
            "token",
            "default",
            "--audience",
            "vault",
            "--duration",
            "10m",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            pod,
        ]))
    }

    /// Publishes a new signing key and signs with it from now on; the old key stays published.
    pub fn rotate_signing_key(&self, runner: &mut Runner, work: &Path) -> Result<(), String> {
        match &self.backend {
            Backend::Sim { .. } => {
                let body = work.join("rotate.json");
                runner.write(&body, "{}")?;
                runner.ok(&self.kubectl(&["create", "--raw", "/sim/v1/rotate", "-f"]).arg(path(&body))).map(drop)
            }
            Backend::Kind { cluster } => {
                let node = format!("{cluster}-control-plane");
                let (key, public) =
                    (work.join(format!("{}-sa-new.key", self.name)), work.join(format!("{}-sa-new.pub", self.name)));
                runner.ok(&Cmd::new(
                    "openssl",
                    &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"],
                )
                .arg(path(&key)))?;
                runner.ok(&Cmd::new("openssl", &["pkey", "-pubout", "-in"])
                    .arg(path(&key))
                    .arg("-out")
                    .arg(path(&public)))?;
                runner.ok(&Cmd::new("docker", &["cp"]).arg(path(&public)).arg(format!("{node}:/tmp/sa-new.pub")))?;
                runner.ok(&Cmd::new("docker", &["cp"])
                    .arg(path(&key))
                    .arg(format!("{node}:/etc/kubernetes/pki/sa.key")))?;
                runner.ok(&Cmd::new(
                    "docker",
                    &["exec", &node, "sh", "-c", "cat /tmp/sa-new.pub >> /etc/kubernetes/pki/sa.pub"],
                ))?;
                // A static pod restarts when its manifest leaves and comes back (kubelet polls every 20 s).
                runner.ok(&Cmd::new("docker", &["exec", &node, "sh", "-c",
                    "mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/ && sleep 30 && mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/"]))?;
                self.retry(runner, &["get", "--raw", "/readyz"], Duration::from_secs(180)).map(drop)
            }
        }
    }

    /// What to keep when a scenario fails.
    pub fn logs(&self) -> String {
        match &self.backend {
            Backend::Sim { log, .. } => std::fs::read_to_string(log).unwrap_or_default(),
            Backend::Kind { cluster } => format!("kind export logs --name {cluster} target/e2e/kind-logs"),
        }
    }

    pub fn export_logs(&self, runner: &mut Runner, work: &Path) {
        if let Backend::Kind { cluster } = &self.backend {
            let dir = work.join(format!("kind-logs-{}", self.name));
            let _ = runner.output(&Cmd::new("kind", &["export", "logs"]).arg(path(&dir)).arg("--name").arg(cluster));
        }
    }

    /// Leaves a simulator running after this process exits (`--keep`).
    pub fn detach(&mut self) {
        if let Backend::Sim { child, .. } = &mut self.backend {
            child.take();
        }
    }

    /// Stops a simulator or deletes a kind cluster.
    pub fn teardown(&mut self, runner: &mut Runner) {
        match &mut self.backend {
            Backend::Sim { child, .. } => {
                if let Some(mut child) = child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            Backend::Kind { cluster } => {
                let _ = runner.output(&Cmd::new("kind", &["delete", "cluster", "--name", cluster]));
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Backend::Sim { child: Some(child), .. } = &mut self.backend {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cmd {
    pub fn args_from(mut self, args: &[&str]) -> Cmd {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
}

pub fn path(p: &Path) -> String {
    p.display().to_string()
}
