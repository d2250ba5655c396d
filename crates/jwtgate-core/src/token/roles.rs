//! Token-store roles (`auth/token/roles/<name>`): what `auth/token/create/<name>` may hand out.
//! A role's allowed and disallowed policies replace the parent-subset rule, so writing a role
//! is root-level power (its path is ACL'd like any other).

use crate::error::Error;
use crate::fields;
use crate::request::{unknown_fields_warning, Body, Operation, Response};
use crate::token::{blocking, Tokens};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The store keeps token roles beside the auth methods' roles, under the token store's path
/// (no auth mount can be enabled there).
const STORE_MOUNT: &str = "token";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenRole {
    pub name: String,
    pub allowed_policies: Vec<String>,
    pub disallowed_policies: Vec<String>,
    pub allowed_policies_glob: Vec<String>,
    pub disallowed_policies_glob: Vec<String>,
    pub allowed_entity_aliases: Option<Vec<String>>,
    pub orphan: bool,
    pub renewable: bool,
    pub path_suffix: String,
    pub token_bound_cidrs: Vec<String>,
    pub token_explicit_max_ttl: i64,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    pub token_period: i64,
    /// `default-service`, `default-batch`, `service` or `batch`.
    pub token_type: String,
    /// Deprecated names, set only when a write used them (Vault reads them back then).
    pub explicit_max_ttl: i64,
    pub period: i64,
    pub bound_cidrs: Vec<String>,
}

impl Default for TokenRole {
    fn default() -> TokenRole {
        TokenRole {
            name: String::new(),
            allowed_policies: Vec::new(),
            disallowed_policies: Vec::new(),
            allowed_policies_glob: Vec::new(),
            disallowed_policies_glob: Vec::new(),
            allowed_entity_aliases: None,
            orphan: false,
            renewable: true,
            path_suffix: String::new(),
            token_bound_cidrs: Vec::new(),
            token_explicit_max_ttl: 0,
            token_no_default_policy: false,
            token_num_uses: 0,
            token_period: 0,
            token_type: "default-service".into(),
            explicit_max_ttl: 0,
            period: 0,
            bound_cidrs: Vec::new(),
        }
    }
}

const FIELDS: [&str; 18] = [
    "allowed_policies",
    "disallowed_policies",
    "allowed_policies_glob",
    "disallowed_policies_glob",
    "allowed_entity_aliases",
    "orphan",
    "renewable",
    "path_suffix",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_type",
    "explicit_max_ttl",
    "period",
    "bound_cidrs",
    "role_name",
];

/// Vault's `SanitizePolicies` without adding `default`: trimmed, lower-cased, unique, sorted.
pub fn sanitise(policies: &[String]) -> Vec<String> {
    let mut out: Vec<String> = policies.iter().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

/// go-glob's match: `*` stands for any run of characters, anywhere in the pattern.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

pub fn any_glob(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| glob_matches(p, text))
}

impl TokenRole {
    /// Applies a role write on top of the current role (or the defaults), with Vault's checks.
    fn write(mut self, body: &Body) -> Result<TokenRole, Error> {
        for (field, list) in [
            ("allowed_policies", &mut self.allowed_policies),
            ("disallowed_policies", &mut self.disallowed_policies),
            ("allowed_policies_glob", &mut self.allowed_policies_glob),
            ("disallowed_policies_glob", &mut self.disallowed_policies_glob),
        ] {
            if let Some(given) = fields::strings(body, field)? {
                *list = sanitise(&given);
            }
        }
        if let Some(aliases) = fields::strings(body, "allowed_entity_aliases")? {
            self.allowed_entity_aliases = Some(sanitise(&aliases));
        }
        for (field, flag) in [("orphan", &mut self.orphan), ("renewable", &mut self.renewable)] {
            if let Some(value) = fields::boolean(body, field)? {
                *flag = value;
            }
        }
        if let Some(no_default) = fields::boolean(body, "token_no_default_policy")? {
            self.token_no_default_policy = no_default;
        }
        if let Some(suffix) = fields::string(body, "path_suffix")? {
            if suffix.contains("..") {
                return Err(Error::BadRequest(
                    "error registering path suffix: path cannot contain parent references".into(),
                ));
            }
            if !suffix.is_empty() && !has_suffix_word(&suffix) {
                return Err(Error::BadRequest(
                    r"given role path suffix contains invalid characters; must match \w[\w-.]+\w".into(),
                ));
            }
            self.path_suffix = suffix;
        }
        if let Some(uses) = fields::integer(body, "token_num_uses")? {
            if uses < 0 {
                return Err(Error::BadRequest("error parsing role fields: 'token_num_uses' cannot be negative".into()));
            }
            self.token_num_uses = uses;
        }
        for (old, new) in [("explicit_max_ttl", "token_explicit_max_ttl"), ("period", "token_period")] {
            let source = if body.contains_key(new) { new } else { old };
            let Some(seconds) = fields::duration(body, source)? else { continue };
            if seconds < 0 {
                return Err(Error::BadRequest(format!(
                    "error converting input for field {source:?}: cannot provide negative value '{seconds}'"
                )));
            }
            let (current, deprecated) = match new {
                "token_period" => (&mut self.token_period, &mut self.period),
                _ => (&mut self.token_explicit_max_ttl, &mut self.explicit_max_ttl),
            };
            *current = seconds;
            *deprecated = if body.contains_key(old) { seconds } else { 0 };
        }
        let cidr_source = if body.contains_key("token_bound_cidrs") { "token_bound_cidrs" } else { "bound_cidrs" };
        if let Some(cidrs) = fields::strings(body, cidr_source)? {
            if let Some(bad) = cidrs.iter().find(|c| crate::cidr::Cidr::parse(c).is_none()) {
                return Err(Error::BadRequest(format!("invalid CIDR or IP address {bad:?}")));
            }
            self.bound_cidrs = if body.contains_key("bound_cidrs") { cidrs.clone() } else { Vec::new() };
            self.token_bound_cidrs = cidrs;
        }
        if let Some(kind) = fields::string(body, "token_type")? {
            if !["default-service", "default-batch", "service", "batch"].contains(&kind.as_str()) {
                return Err(Error::BadRequest(format!("invalid 'token_type' value {kind:?}")));
            }
            self.token_type = kind;
        }
        if self.token_type == "batch" {
            let refuse = |why: &str| {
                Err(Error::BadRequest(format!("'token_type' cannot be 'batch' when role is set to generate {why}")))
            };
            if !self.orphan {
                return refuse("non-orphan tokens");
            }
            if self.token_period != 0 {
                return refuse("periodic tokens");
            }
            if self.renewable {
                return refuse("renewable tokens");
            }
            if self.token_explicit_max_ttl != 0 {
                return refuse("tokens with an explicit max TTL");
            }
            if self.token_num_uses != 0 {
                return refuse("tokens with limited use count");
            }
        }
        Ok(self)
    }

    fn data(&self) -> Value {
        let mut data = json!({
            "name": self.name,
            "allowed_policies": self.allowed_policies,
            "disallowed_policies": self.disallowed_policies,
            "allowed_policies_glob": self.allowed_policies_glob,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "allowed_entity_aliases": self.allowed_entity_aliases,
            "orphan": self.orphan,
            "renewable": self.renewable,
            "path_suffix": self.path_suffix,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "explicit_max_ttl": self.explicit_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_period": self.token_period,
            "period": self.period,
            "token_type": self.token_type,
        });
        // Vault shows these only once they have a value.
        if !self.token_bound_cidrs.is_empty() {
            data["token_bound_cidrs"] = json!(self.token_bound_cidrs);
        }
        if !self.bound_cidrs.is_empty() {
            data["bound_cidrs"] = json!(self.bound_cidrs);
        }
        if self.token_num_uses > 0 {
            data["token_num_uses"] = json!(self.token_num_uses);
        }
        data
    }
}

/// Vault checks the suffix with an unanchored `\w[\w-.]+\w`.
fn has_suffix_word(suffix: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = suffix.chars().collect();
    chars.split(|c| !(word(*c) || *c == '-' || *c == '.')).any(|run| {
        let first = run.iter().position(|c| word(*c));
        let last = run.iter().rposition(|c| word(*c));
        matches!((first, last), (Some(f), Some(l)) if l >= f + 2)
    })
}

/// Token role names: Vault's `\w(([\w-.]+)?\w)?`.
pub fn valid_role_name(name: &str) -> bool {
    crate::auth::valid_name(name)
}

impl Tokens {
    /// A token role by name.
    pub async fn token_role(&self, name: &str) -> Result<Option<TokenRole>, Error> {
        let (store, name) = (self.store.clone(), name.to_owned());
        let value = blocking(move || Ok(store.get_role(STORE_MOUNT, &name)?)).await?;
        value
            .map(|v| serde_json::from_value(v).map_err(|e| Error::internal("decode a stored token role", e)))
            .transpose()
    }

    /// `LIST auth/token/roles`.
    pub async fn list_token_roles(&self) -> Result<Response, Error> {
        let store = self.store.clone();
        let names = blocking(move || Ok(store.list_roles(STORE_MOUNT)?)).await?;
        if names.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::data(json!({ "keys": names }), "token"))
    }

    /// `auth/token/roles/<name>`: read, write (create or update), delete.
    pub async fn token_role_endpoint(&self, operation: Operation, name: &str, body: &Body) -> Result<Response, Error> {
        if !valid_role_name(name) {
            return Err(Error::NoHandler(format!("auth/token/roles/{name}")));
        }
        let (store, key) = (self.store.clone(), name.to_owned());
        match operation {
            Operation::Read => {
                let role = self.token_role(name).await?.ok_or(Error::NotFound)?;
                Ok(Response::data(role.data(), "token"))
            }
            Operation::Delete => {
                blocking(move || Ok(store.delete_role(STORE_MOUNT, &key)?)).await?;
                Ok(Response::NoContent)
            }
            _ => {
                let current = self.token_role(name).await?;
                let role = current.unwrap_or_else(|| TokenRole { name: name.to_owned(), ..TokenRole::default() });
                let record =
                    serde_json::to_value(role.write(body)?).map_err(|e| Error::internal("encode a role", e))?;
                blocking(move || Ok(store.put_role(STORE_MOUNT, &key, &record)?)).await?;
                Ok(Response::written(unknown_fields_warning(body, &FIELDS).into_iter().collect(), "token"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_go_glob() {
        for (pattern, text, matches) in [
            ("p-*", "p-1", true),
            ("p-*", "p-", true),
            ("p-*", "q-1", false),
            ("*-admin", "team-admin", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("*", "", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(glob_matches(pattern, text), matches, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn path_suffix_rule() {
        for (suffix, ok) in
            [("v1x", true), ("a/b.c-d", true), ("a b", false), ("ab", false), ("-a-", false), ("x.y", true)]
        {
            assert_eq!(has_suffix_word(suffix), ok, "{suffix}");
        }
    }
}
