//! The `token_*` fields every auth method's roles share (Vault's `tokenutil`), with their
//! deprecated aliases, as one typed record embedded in each role.

use crate::error::Error;
use crate::fields;
use crate::request::Body;
use serde::{Deserialize, Serialize};

/// A role's token parameters. Stored inside the role; fields missing from an older record
/// take these defaults on read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenParams {
    pub token_policies: Vec<String>,
    pub token_ttl: i64,
    pub token_max_ttl: i64,
    pub token_explicit_max_ttl: i64,
    pub token_period: i64,
    pub token_num_uses: i64,
    pub token_no_default_policy: bool,
    pub token_bound_cidrs: Vec<String>,
    /// `default`, `service` or `batch`.
    pub token_type: String,
    /// Deprecated names: kept only when a write used the old name (Vault then shows both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_uses: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_cidrs: Option<Vec<String>>,
}

impl Default for TokenParams {
    fn default() -> TokenParams {
        TokenParams {
            token_policies: Vec::new(),
            token_ttl: 0,
            token_max_ttl: 0,
            token_explicit_max_ttl: 0,
            token_period: 0,
            token_num_uses: 0,
            token_no_default_policy: false,
            token_bound_cidrs: Vec::new(),
            token_type: "default".into(),
            policies: None,
            ttl: None,
            max_ttl: None,
            period: None,
            num_uses: None,
            bound_cidrs: None,
        }
    }
}

/// Vault's token fields with their deprecated names: what a role write accepts besides its own.
pub const FIELDS: [&str; 15] = [
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "token_explicit_max_ttl",
    "token_period",
    "token_num_uses",
    "token_no_default_policy",
    "token_bound_cidrs",
    "token_type",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "num_uses",
    "bound_cidrs",
];

/// A value of one deprecated pair, as the body gave it.
enum Given {
    List(Vec<String>),
    Number(i64),
}

impl TokenParams {
    /// Applies the token fields of a role write, with Vault's checks.
    pub fn write(&mut self, body: &Body) -> Result<(), Error> {
        self.write_pair(body, "policies", "token_policies")?;
        self.write_pair(body, "ttl", "token_ttl")?;
        self.write_pair(body, "max_ttl", "token_max_ttl")?;
        self.write_pair(body, "period", "token_period")?;
        self.write_pair(body, "num_uses", "token_num_uses")?;
        self.write_pair(body, "bound_cidrs", "token_bound_cidrs")?;
        if let Some(flag) = fields::boolean(body, "token_no_default_policy")? {
            self.token_no_default_policy = flag;
        }
        if let Some(seconds) = fields::duration(body, "token_explicit_max_ttl")? {
            if seconds < 0 {
                return Err(Error::BadRequest("'token_explicit_max_ttl' cannot be negative".into()));
            }
            self.token_explicit_max_ttl = seconds;
        }
        if let Some(kind) = fields::string(body, "token_type")? {
            let kind = if kind.is_empty() { "default".to_owned() } else { kind };
            if !["default", "service", "batch"].contains(&kind.as_str()) {
                return Err(Error::BadRequest(format!("invalid 'token_type' value {kind:?}")));
            }
            self.token_type = kind;
        }
        if self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(Error::BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'".into()));
        }
        if self.token_type == "batch" {
            if self.token_period > 0 {
                return Err(Error::BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens".into(),
                ));
            }
            if self.token_num_uses > 0 {
                return Err(Error::BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// One deprecated pair: the new name wins; when the old name was sent too (alone or with
    /// the new one) it mirrors the value; the new name sent alone, the old one goes.
    fn write_pair(&mut self, body: &Body, old: &str, new: &str) -> Result<(), Error> {
        let (old_present, new_present) = (body.contains_key(old), body.contains_key(new));
        let source = match (new_present, old_present) {
            (true, _) => new,
            (false, true) => old,
            (false, false) => return Ok(()),
        };
        let given = match new {
            // Read back as written (order, case, repeats); normalised when a token is issued.
            "token_policies" => {
                let written = fields::strings(body, source)?.unwrap_or_default();
                normalise_policies(&written)?;
                Given::List(written.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
            }
            "token_bound_cidrs" => Given::List(parse_cidrs(&fields::strings(body, source)?.unwrap_or_default())?),
            "token_num_uses" => {
                let uses = fields::integer(body, source)?.unwrap_or(0);
                if uses < 0 {
                    return Err(Error::BadRequest("'token_num_uses' cannot be negative".into()));
                }
                Given::Number(uses)
            }
            _ => {
                let seconds = fields::duration(body, source)?.unwrap_or(0);
                if seconds < 0 {
                    return Err(Error::BadRequest(format!("'{new}' cannot be negative")));
                }
                Given::Number(seconds)
            }
        };
        let keep_old = old_present;
        match (given, new) {
            (Given::List(list), "token_policies") => {
                self.policies = keep_old.then(|| list.clone());
                self.token_policies = list;
            }
            (Given::List(list), _) => {
                self.bound_cidrs = keep_old.then(|| list.clone());
                self.token_bound_cidrs = list;
            }
            (Given::Number(n), "token_ttl") => (self.token_ttl, self.ttl) = (n, keep_old.then_some(n)),
            (Given::Number(n), "token_max_ttl") => (self.token_max_ttl, self.max_ttl) = (n, keep_old.then_some(n)),
            (Given::Number(n), "token_period") => (self.token_period, self.period) = (n, keep_old.then_some(n)),
            (Given::Number(n), _) => (self.token_num_uses, self.num_uses) = (n, keep_old.then_some(n)),
        }
        Ok(())
    }

    /// Drops deprecated names whose value is zero or empty (Vault's read shows them only when set).
    pub fn hide_unset_aliases(&mut self) {
        self.policies = self.policies.take().filter(|list| !list.is_empty());
        self.bound_cidrs = self.bound_cidrs.take().filter(|list| !list.is_empty());
        for alias in [&mut self.ttl, &mut self.max_ttl, &mut self.period, &mut self.num_uses] {
            *alias = alias.filter(|n| *n != 0);
        }
    }
}

/// Lower-cased, trimmed, de-duplicated and sorted; `root` in any spelling is refused
/// (CVE-2025-5999: Vault once compared policy names without folding case).
pub fn normalise_policies(policies: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = policies.iter().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect();
    if out.iter().any(|p| p == "root") {
        return Err(Error::BadRequest("auth methods cannot create root tokens".into()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// CIDRs or bare IPs, kept as given after validation.
fn parse_cidrs(entries: &[String]) -> Result<Vec<String>, Error> {
    for entry in entries {
        if crate::cidr::Cidr::parse(entry).is_none() {
            return Err(Error::BadRequest(format!("invalid CIDR or IP address {entry:?}")));
        }
    }
    Ok(entries.to_vec())
}
