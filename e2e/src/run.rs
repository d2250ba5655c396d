//! Every external command goes through [`Runner`]: it runs it (or, in a dry run, only prints
//! it), keeps a transcript for `target/e2e/`, and checks exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One command line.
#[derive(Debug, Clone, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<String>,
}

impl Cmd {
    pub fn new(program: impl AsRef<str>, args: &[&str]) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Cmd::default()
        }
    }
    pub fn arg(mut self, arg: impl AsRef<str>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }
    pub fn env(mut self, name: &str, value: impl AsRef<str>) -> Cmd {
        self.env.push((name.to_owned(), value.as_ref().to_owned()));
        self
    }
    pub fn stdin(mut self, input: impl Into<String>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    /// The command as a shell line (environment first, arguments quoted where needed).
    pub fn shell_line(&self) -> String {
        let mut words: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
        words.push(quote(&self.program));
        words.extend(self.args.iter().map(|a| quote(a)));
        words.join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%^".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What a command printed.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

pub struct Runner {
    pub dry_run: bool,
    /// Program names mapped to the binaries to run (`jwtgate` → target/debug/jwtgate).
    binaries: Vec<(String, PathBuf)>,
    transcript: Vec<String>,
}

impl Runner {
    pub fn new(dry_run: bool, binaries: Vec<(String, PathBuf)>) -> Runner {
        Runner { dry_run, binaries, transcript: Vec::new() }
    }

    /// The binary a program name stands for.
    pub fn binary(&self, program: &str) -> PathBuf {
        self.binaries.iter().find(|(name, _)| name == program).map_or_else(|| program.into(), |(_, path)| path.clone())
    }

    /// Records a command started in the background (a dry run prints it).
    pub fn background(&mut self, cmd: &Cmd) {
        let line = format!("{} &", cmd.shell_line());
        if self.dry_run {
            println!("{line}");
        }
        self.transcript.push(format!("$ {line}"));
    }

    /// Runs `cmd`; a dry run prints it and pretends it succeeded with no output.
    pub fn output(&mut self, cmd: &Cmd) -> Result<Output, String> {
        let line = cmd.shell_line();
        self.transcript.push(format!("$ {line}"));
        if self.dry_run {
            println!("{line}");
            return Ok(Output { success: true, ..Output::default() });
        }
        let mut command = Command::new(self.binary(&cmd.program));
        command.args(&cmd.args).envs(cmd.env.iter().map(|(k, v)| (k, v)));
        command.stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| format!("cannot run {}: {e}", cmd.program))?;
        if let Some(input) = &cmd.stdin {
            child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let output = Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.transcript.push(format!("{}{}[exit: {}]", output.stdout, output.stderr, out.status));
        Ok(output)
    }

    /// Runs `cmd`, which must succeed; returns its stdout.
    pub fn ok(&mut self, cmd: &Cmd) -> Result<String, String> {
        let output = self.output(cmd)?;
        if output.success {
            Ok(output.stdout)
        } else {
            Err(format!("`{}` failed:\n{}{}", cmd.shell_line(), output.stdout, output.stderr))
        }
    }

    /// Runs `cmd`, which must fail with `want` in its output; returns the output.
    pub fn fails(&mut self, cmd: &Cmd, want: &str) -> Result<String, String> {
        let output = self.output(cmd)?;
        if self.dry_run {
            return Ok(String::new());
        }
        let text = format!("{}{}", output.stdout, output.stderr);
        if output.success {
            return Err(format!("`{}` succeeded but should have failed with {want:?}:\n{text}", cmd.shell_line()));
        }
        if !text.contains(want) {
            return Err(format!("`{}` failed without {want:?}:\n{text}", cmd.shell_line()));
        }
        Ok(text)
    }

    /// Writes a file the commands read (a dry run prints what it would write).
    pub fn write(&mut self, path: &Path, contents: &str) -> Result<(), String> {
        self.transcript.push(format!("# write {}", path.display()));
        if self.dry_run {
            println!("# write {}", path.display());
            return Ok(());
        }
        std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// A check that holds only for real runs.
    pub fn check(&self, holds: bool, what: impl FnOnce() -> String) -> Result<(), String> {
        if self.dry_run || holds {
            Ok(())
        } else {
            Err(what())
        }
    }

    /// The transcript since the last call.
    pub fn take_transcript(&mut self) -> String {
        std::mem::take(&mut self.transcript).join("\n")
    }
}

/// Replaces every JWT-shaped word (`eyJ` + two dots) with `<jwt>`, and jwtgate client tokens
/// (`jgs.`, `jgb.`) with `<token>`, so transcripts can be kept.
pub fn redact(text: &str) -> String {
    let text = redact_jwts(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("jgs.").into_iter().chain(rest.find("jgb.")).min() {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 4..];
        let end =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(tail.len());
        out.push_str("<token>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(tail.len());
        out.push_str(if tail[..end].matches('.').count() == 2 { "<jwt>" } else { &tail[..end] });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_jwts_and_client_tokens() {
        let cases = [
            ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln done", "token <jwt> done"),
            ("{\"client_token\": \"jgs.abcDEF123\", \"x\": 1}", "{\"client_token\": \"<token>\", \"x\": 1}"),
            ("batch jgb.a.b-c_d and eyJonly.one", "batch <token> and eyJonly.one"),
            ("nothing here", "nothing here"),
        ];
        for (input, want) in cases {
            assert_eq!(super::redact(input), want);
        }
    }
}
