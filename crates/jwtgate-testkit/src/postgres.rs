//! A real PostgreSQL for tests: Debian's `postgresql` (initdb and pg_ctl), a server of the
//! test's own in a temporary directory, run as the unprivileged `postgres` user when the tests
//! run as root, on a free port, stopped when dropped (and by a watchdog when the test process
//! exits). Without PostgreSQL, [`PgServer::start`] says so and gives `None`; under `CI=true`
//! it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

pub struct PgServer {
    dir: TempDir,
    data: PathBuf,
    bin: PathBuf,
    /// What `pg_ctl start -o` is given: the port, socket directory and settings.
    options: String,
    pub port: u16,
    pub url: String,
}

/// initdb and pg_ctl: Debian keeps them under /usr/lib/postgresql/<version>/bin.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgServer {
    /// A fresh server, or `None` (said on stderr) where PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        PgServer::start_with(|_| Vec::new())
    }

    /// [`PgServer::start`] with server settings (`-c name=value`) chosen once the server's
    /// directory exists (`setup` may write files there; they are handed to the server's user).
    pub fn start_with(setup: impl FnOnce(&Path) -> Vec<String>) -> Option<PgServer> {
        let Some(bin) = postgres_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL (Debian's postgresql package) is required under CI=true"
            );
            eprintln!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let settings: String = setup(dir.path()).iter().map(|setting| format!(" -c {setting}")).collect();
        if is_root() {
            run(
                {
                    let mut chown = Command::new("chown");
                    chown.args(["-R", "postgres:postgres"]).arg(dir.path());
                    chown
                },
                "chown the server's directory",
            );
        }
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb.args(["-A", "trust", "-U", "jwtgate", "-E", "UTF8", "--no-sync", "-D"]).arg(&data);
        run(initdb, "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1{settings}", dir.path().display());
        // Stopped by drop, and by this watchdog when the test process is gone (the shared
        // server is a static, which is never dropped).
        let pg_ctl = bin.join("pg_ctl");
        let stop = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; {} {} -m immediate -D {} stop",
            std::process::id(),
            if is_root() { "runuser -u postgres --" } else { "" },
            pg_ctl.display(),
            data.display()
        );
        // Outlives this process on purpose: it is what stops the server after the tests.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .args(["-c", &stop])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("postgresql://jwtgate@127.0.0.1:{port}/postgres");
        let server = PgServer { dir, data, bin, options, port, url };
        server.start_again();
        Some(server)
    }

    /// Starts the server again after [`PgServer::stop_now`], on the same port and data.
    pub fn start_again(&self) {
        let mut start = as_postgres(&self.bin.join("pg_ctl"));
        start.args(["-w", "-t", "60", "-D"]).arg(&self.data).arg("-l").arg(self.dir.path().join("log")).args([
            "-o",
            &self.options,
            "start",
        ]);
        run(start, "pg_ctl start");
    }

    /// The postmaster and every process it started (backends, writers): what the server costs.
    pub fn pids(&self) -> Vec<u32> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap_or_default();
        let Some(postmaster) = pid_file.lines().next().and_then(|line| line.trim().parse::<u32>().ok()) else {
            return Vec::new();
        };
        let children = std::fs::read_dir("/proc").into_iter().flatten().filter_map(|entry| {
            let pid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<u32>().ok()?;
            (parent == postmaster).then_some(pid)
        });
        std::iter::once(postmaster).chain(children).collect()
    }

    /// Freezes every process of the server (SIGSTOP): connections stay open and the kernel
    /// still acknowledges what is sent, but nothing answers, as with a hung database. Returns
    /// what [`PgServer::thaw`] wakes.
    pub fn freeze(&self) -> Vec<u32> {
        let pids = self.pids();
        signal("-STOP", &pids);
        pids
    }

    pub fn thaw(&self, pids: &[u32]) {
        signal("-CONT", pids);
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, clients cut off).
    pub fn stop_now(&self) {
        let mut stop = as_postgres(&self.bin.join("pg_ctl"));
        stop.args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop");
        run(stop, "pg_ctl stop");
    }
}

fn signal(signal: &str, pids: &[u32]) {
    let mut kill = Command::new("kill");
    kill.arg(signal).args(pids.iter().map(u32::to_string));
    run(kill, "kill");
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut stop = as_postgres(&self.bin.join("pg_ctl"));
        stop.args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop");
        let _ = stop.output();
    }
}
