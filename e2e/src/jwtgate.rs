//! A jwtgate dev server started from the host binary, one per scenario, and its CLI.

use crate::cluster::path;
use crate::run::{Cmd, Runner};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ROOT_TOKEN: &str = "root";

pub struct Jwtgate {
    child: Option<Child>,
    pub address: String,
    pub log: PathBuf,
    home: PathBuf,
}

impl Jwtgate {
    pub fn start(runner: &mut Runner, work: &Path, name: &str) -> Result<Jwtgate, String> {
        // A real server picks its own port and names it in its ready line.
        let address = if runner.dry_run { "127.0.0.1:8200" } else { "127.0.0.1:0" }.to_owned();
        let log = work.join(format!("jwtgate-{name}.log"));
        let cmd = Cmd::new(
            "jwtgate",
            &["server", "--dev", "--dev-root-token-id", ROOT_TOKEN, "--dev-listen-address", &address],
        );
        runner.background(&cmd);
        let mut server = Jwtgate { child: None, address: address.clone(), log: log.clone(), home: work.to_owned() };
        if runner.dry_run {
            return Ok(server);
        }
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(runner.binary("jwtgate"))
            .args(&cmd.args)
            .env("JWTGATE_LOG_LEVEL", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start jwtgate: {e}"))?;
        let ready = jwtgate_testkit::wait_ready(server.child.insert(child), Duration::from_secs(30));
        let (url, _) = ready.map_err(|e| format!("jwtgate did not start ({e}): {}", server.log_text()))?;
        server.address = url.trim_start_matches("http://").to_owned();
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `jwtgate ARGS` as a client of this server, with the root token.
    pub fn cli(&self, args: &[&str]) -> Cmd {
        Cmd::new("jwtgate", args)
            .env("VAULT_ADDR", self.url())
            .env("VAULT_TOKEN", ROOT_TOKEN)
            .env("HOME", path(&self.home))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Jwtgate {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}
