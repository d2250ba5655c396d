//! Runs a case on both servers and lists what differs: the status, then every JSON value by
//! pointer, where values that are random or clock-bound by nature only need the same shape.

use crate::peer::{Answer, Peer};
use crate::{Case, Compare, Difference};
use serde_json::Value;
use std::collections::HashMap;

/// Random or clock-bound values: both must be present with the same JSON type.
const VOLATILE: &[&str] = &[
    "request_id",
    "accessor",
    "client_token",
    "creation_time",
    "issue_time",
    "expire_time",
    "last_renewal_time",
    "last_renewal",
    "entity_id",
    "mount_accessor",
    "nonce",
    "cluster_id",
    "cluster_name",
    "uuid",
    "token",
    "wrapped_accessor",
    "creation_path",
    "id",
    "version",
    "build_date",
    "commit_date",
    "server_time_utc",
    "migration_id",
];

/// Remaining seconds: equal within the time a case takes.
const COUNTDOWN: &[&str] = &["ttl", "lease_duration"];
const SLACK: i64 = 5;

pub fn run(case: &Case, openbao: &mut Peer, jwtgate: &mut Peer) -> Vec<Difference> {
    let mut vars = [HashMap::new(), HashMap::new()];
    let mut differences = Vec::new();
    for (index, step) in case.steps.iter().enumerate() {
        let answers = [openbao.send(step, &vars[0]), jwtgate.send(step, &vars[1])];
        // A failed step captures nothing: later steps then use a token neither server knows,
        // and the failure itself shows as a difference when only one server failed.
        for (answer, vars) in answers.iter().zip(vars.iter_mut()) {
            for (name, pointer) in &step.capture {
                let value = answer.body.pointer(pointer).and_then(Value::as_str).unwrap_or("s.nothing-captured");
                vars.insert(name.to_string(), value.to_owned());
            }
        }
        let mut differ = |pointer: String, openbao: String, jwtgate: String| {
            differences.push(Difference { case: case.name.clone(), step: index, pointer, openbao, jwtgate })
        };
        let [theirs, ours] = &answers;
        match step.compare {
            Compare::Setup => {
                for (answer, name) in answers.iter().zip(["openbao", "jwtgate"]) {
                    assert!(
                        answer.status < 300,
                        "{name}: set-up step {index} of {} ({} {}) answered {} {}",
                        case.name,
                        step.method,
                        step.path,
                        answer.status,
                        answer.body
                    );
                }
            }
            Compare::Status => {
                if theirs.status != ours.status {
                    differ("status".into(), summary(theirs), summary(ours));
                }
            }
            Compare::Full => {
                if theirs.status != ours.status {
                    differ("status".into(), summary(theirs), summary(ours));
                } else {
                    values("", None, &theirs.body, &ours.body, &mut differ);
                }
            }
        }
    }
    differences
}

fn summary(answer: &Answer) -> String {
    let errors = answer.body.get("errors").map(Value::to_string).unwrap_or_default();
    format!("{} {errors}", answer.status)
}

fn values(
    pointer: &str,
    key: Option<&str>,
    theirs: &Value,
    ours: &Value,
    differ: &mut impl FnMut(String, String, String),
) {
    match (theirs, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let here = format!("{pointer}/{k}");
                match b.get(k) {
                    Some(vb) => values(&here, Some(k), va, vb, differ),
                    None => differ(here, va.to_string(), "<absent>".into()),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    differ(format!("{pointer}/{k}"), "<absent>".into(), vb.to_string());
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                values(&format!("{pointer}/{i}"), key, va, vb, differ);
            }
        }
        _ if key.is_some_and(|k| VOLATILE.contains(&k)) => {
            let same_kind = std::mem::discriminant(theirs) == std::mem::discriminant(ours);
            if !same_kind {
                differ(pointer.into(), theirs.to_string(), ours.to_string());
            }
        }
        (Value::Number(a), Value::Number(b)) if key.is_some_and(|k| COUNTDOWN.contains(&k)) => {
            let apart = (a.as_i64().unwrap_or(0) - b.as_i64().unwrap_or(0)).abs();
            if apart > SLACK {
                differ(pointer.into(), theirs.to_string(), ours.to_string());
            }
        }
        _ if theirs != ours => differ(pointer.into(), theirs.to_string(), ours.to_string()),
        _ => {}
    }
}
