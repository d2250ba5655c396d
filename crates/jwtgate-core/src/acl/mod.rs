//! Vault's ACL policy language (HCL, parsed by `hcl-rs`, or its JSON form) and its evaluation:
//! `path "<pattern>" { capabilities = [...] }`, `*` suffix and `+` segment globs, capabilities
//! merged per pattern across a token's policies, `deny` winning, and Vault's precedence between
//! patterns that match the same path.

pub mod policies;

use std::collections::BTreeMap;

/// What a policy rule may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Create,
    Read,
    Update,
    Delete,
    List,
    Sudo,
    Deny,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Deny => "deny",
        }
    }

    fn parse(name: &str) -> Option<Capability> {
        Some(match name {
            "create" => Capability::Create,
            "read" => Capability::Read,
            "update" => Capability::Update,
            "delete" => Capability::Delete,
            "list" => Capability::List,
            "sudo" => Capability::Sudo,
            "deny" => Capability::Deny,
            // Accepted by Vault, meaningless here.
            "patch" | "subscribe" | "recover" => return None,
            _ => return None,
        })
    }
}

/// A parsed policy: pattern → capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: BTreeMap<String, Vec<Capability>>,
}

/// Vault's built-in `default` policy (the parts this server serves).
pub const DEFAULT_POLICY: &str = r#"
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}
# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}
# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
"#;

/// Parses a policy in Vault's HCL, or in the JSON form Vault's HCL parser also reads
/// (`{"path": {"<pattern>": {"capabilities": [...]}}}`). Errors name the line.
pub fn parse(text: &str) -> Result<Policy, String> {
    let stanzas = if text.trim_start().starts_with('{') { json_stanzas(text)? } else { hcl_stanzas(text)? };
    let mut policy = Policy::default();
    let mut searched = 0;
    for Stanza { pattern, attributes } in stanzas {
        // Semantic errors name the line the path's pattern is on.
        let quoted = format!("\"{pattern}\"");
        let at = text[searched..].find(&quoted).map_or(searched, |i| searched + i);
        searched = at;
        let line = text[..at].matches('\n').count() + 1;
        let mut granted = Vec::new();
        for (key, value) in attributes {
            match (key.as_str(), value) {
                ("capabilities", Item::List(names)) => {
                    for name in names {
                        match Capability::parse(&name) {
                            Some(capability) => granted.push(capability),
                            None if ["patch", "subscribe", "recover"].contains(&name.as_str()) => {}
                            None => return Err(format!("line {line}: unknown capability {name:?}")),
                        }
                    }
                }
                // The pre-0.9 form Vault still reads.
                ("policy", Item::Text(legacy)) => granted
                    .extend(legacy_capabilities(&legacy).ok_or_else(|| {
                        format!("line {line}: invalid policy {legacy:?} (deny, read, write or sudo)")
                    })?),
                ("comment", Item::Text(_)) => {}
                ("capabilities", _) => return Err(format!("line {line}: capabilities must be a list of strings")),
                ("policy" | "comment", _) => return Err(format!("line {line}: {key} must be a string")),
                (other, _) => return Err(format!("line {line}: unsupported path parameter {other:?}")),
            }
        }
        let pattern = pattern.trim_start_matches('/').to_owned();
        let entry = policy.rules.entry(pattern).or_default();
        entry.extend(granted);
        entry.sort();
        entry.dedup();
    }
    Ok(policy)
}

/// Vault's `policy = "..."` shorthand.
fn legacy_capabilities(policy: &str) -> Option<Vec<Capability>> {
    use Capability::*;
    Some(match policy {
        "deny" => vec![Deny],
        "read" => vec![Read, List],
        "write" => vec![Create, Read, Update, Delete, List],
        "sudo" => vec![Create, Read, Update, Delete, List, Sudo],
        _ => return None,
    })
}

/// One `path` block: its pattern and its attributes.
struct Stanza {
    pattern: String,
    attributes: Vec<(String, Item)>,
}

/// An attribute's value, as far as policies use them.
enum Item {
    Text(String),
    List(Vec<String>),
    Other,
}

fn hcl_stanzas(text: &str) -> Result<Vec<Stanza>, String> {
    use hcl::{BlockLabel, Expression, Structure};
    let body = hcl::parse(text).map_err(|error| match error {
        hcl::Error::Parse(parse) => {
            let what = if unbalanced(text) { "unterminated block, list or string: " } else { "" };
            format!("line {}: {what}{}", parse.location().line(), parse.message())
        }
        other => other.to_string(),
    })?;
    let mut stanzas = Vec::new();
    for structure in body.into_inner() {
        let block = match structure {
            Structure::Attribute(attribute) if attribute.key.as_str() == "name" => continue,
            Structure::Attribute(attribute) => {
                return Err(format!(
                    "unsupported stanza {:?} (only `path` blocks are supported)",
                    attribute.key.as_str()
                ))
            }
            Structure::Block(block) => block,
        };
        if block.identifier.as_str() != "path" {
            let line = line_of(text, block.identifier.as_str());
            return Err(format!(
                "line {line}: unsupported stanza {:?} (only `path` blocks are supported)",
                block.identifier.as_str()
            ));
        }
        let pattern = match block.labels.as_slice() {
            [BlockLabel::String(pattern)] => pattern.clone(),
            _ => return Err(format!("line {}: `path` needs a quoted pattern", line_of(text, "path"))),
        };
        let mut attributes = Vec::new();
        for structure in block.body.into_inner() {
            match structure {
                Structure::Attribute(attribute) => {
                    let item = match attribute.expr {
                        Expression::String(text) => Item::Text(text),
                        Expression::Array(items) => items
                            .into_iter()
                            .map(|item| match item {
                                Expression::String(text) => Some(text),
                                _ => None,
                            })
                            .collect::<Option<Vec<String>>>()
                            .map_or(Item::Other, Item::List),
                        _ => Item::Other,
                    };
                    attributes.push((attribute.key.as_str().to_owned(), item));
                }
                Structure::Block(inner) => attributes.push((inner.identifier.as_str().to_owned(), Item::Other)),
            }
        }
        stanzas.push(Stanza { pattern, attributes });
    }
    Ok(stanzas)
}

fn json_stanzas(text: &str) -> Result<Vec<Stanza>, String> {
    use serde_json::Value;
    let document: Value = serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()))?;
    let Value::Object(top) = document else { return Err("line 1: a JSON policy must be an object".into()) };
    let item = |value: Value| match value {
        Value::String(text) => Item::Text(text),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .map_or(Item::Other, Item::List),
        _ => Item::Other,
    };
    let mut stanzas = Vec::new();
    for (key, value) in top {
        match key.as_str() {
            "name" => continue,
            "path" => {}
            other => return Err(format!("unsupported stanza {other:?} (only `path` blocks are supported)")),
        }
        // `"path": {...}` or, as HCL's JSON allows, a list of such objects.
        let blocks = match value {
            Value::Array(blocks) => blocks,
            single => vec![single],
        };
        for block in blocks {
            let Value::Object(paths) = block else { return Err("`path` must map patterns to objects".into()) };
            for (pattern, rules) in paths {
                let Value::Object(rules) = rules else {
                    return Err(format!("path {pattern:?} must hold an object"));
                };
                let attributes = rules.into_iter().map(|(key, value)| (key, item(value))).collect();
                stanzas.push(Stanza { pattern, attributes });
            }
        }
    }
    Ok(stanzas)
}

/// Whether braces, brackets or quotes are left open (the usual cause of a parse error at the end).
fn unbalanced(text: &str) -> bool {
    let (mut depth, mut quoted, mut escaped) = (0i64, false, false);
    for c in text.chars() {
        match (quoted, c) {
            (true, '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (true, '"') if !escaped => quoted = false,
            (false, '"') => quoted = true,
            (false, '{' | '[') => depth += 1,
            (false, '}' | ']') => depth -= 1,
            _ => {}
        }
        escaped = false;
    }
    quoted || depth != 0
}

/// The line `needle` first appears on.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(1, |at| text[..at].matches('\n').count() + 1)
}

/// A token's merged policies.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    rules: BTreeMap<String, Vec<Capability>>,
}

impl Acl {
    /// Whether any rule reaches below `prefix` (Vault's mount access for the UI listing).
    pub fn reaches(&self, prefix: &str) -> bool {
        self.rules.iter().any(|(pattern, granted)| {
            let stem = pattern.trim_end_matches('*');
            !granted.contains(&Capability::Deny)
                && (pattern.starts_with(prefix) || (pattern.ends_with('*') && prefix.starts_with(stem)))
        })
    }

    pub fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Acl {
        let mut rules: BTreeMap<String, Vec<Capability>> = BTreeMap::new();
        for policy in policies {
            for (pattern, capabilities) in &policy.rules {
                let entry = rules.entry(pattern.clone()).or_default();
                entry.extend(capabilities);
                entry.sort();
                entry.dedup();
            }
        }
        Acl { rules }
    }

    /// The capabilities the best-matching rule grants on `path` (empty if none; `deny` empties).
    pub fn capabilities(&self, path: &str) -> Vec<Capability> {
        let path = path.trim_start_matches('/');
        // Vault: a LIST (its path ends in `/`) first tries an exact rule on the path without it,
        // so `path "auth/jwt/role" { capabilities = ["list"] }` grants listing the roles.
        let collection = path.strip_suffix('/').filter(|p| !p.contains('*') && !p.contains('+'));
        let exact = collection
            .and_then(|p| self.rules.get(p))
            .or_else(|| (!path.contains('*') && !path.contains('+')).then(|| self.rules.get(path)).flatten());
        let granted = match exact {
            Some(exact) => exact.clone(),
            None => self
                .rules
                .iter()
                .filter(|(pattern, _)| matches(pattern, path))
                .max_by(|(a, _), (b, _)| compare_priority(a, b))
                .map(|(_, capabilities)| capabilities.clone())
                .unwrap_or_default(),
        };
        if granted.contains(&Capability::Deny) {
            Vec::new()
        } else {
            granted
        }
    }
}

/// Whether `pattern` (`+` = one segment, trailing `*` = any suffix) matches `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (body, prefix_match) = match pattern.strip_suffix('*') {
        Some(body) => (body, true),
        None => (pattern, false),
    };
    let mut rest = path;
    let segments: Vec<&str> = body.split('+').collect();
    for (index, literal) in segments.iter().enumerate() {
        if index > 0 {
            // A `+` consumes one non-empty segment up to the next `/`.
            let end = rest.find('/').unwrap_or(rest.len());
            if end == 0 {
                return false;
            }
            rest = &rest[end..];
        }
        match rest.strip_prefix(literal) {
            Some(tail) => rest = tail,
            None => return false,
        }
    }
    prefix_match || rest.is_empty()
}

/// Vault's priority between two matching patterns; `Greater` means `a` wins.
fn compare_priority(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let first_wildcard = |p: &str| p.find(['*', '+']).unwrap_or(p.len());
    // 1. The later the first wildcard, the higher the priority.
    match first_wildcard(a).cmp(&first_wildcard(b)) {
        Ordering::Equal => {}
        other => return other,
    }
    // 2. Ending in `*` loses to not ending in `*`.
    match (a.ends_with('*'), b.ends_with('*')) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    // 3. More `+` segments lose.
    match b.matches('+').count().cmp(&a.matches('+').count()) {
        Ordering::Equal => {}
        other => return other,
    }
    // 4. Shorter loses; 5. then lexicographically larger wins.
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vault_policies() {
        let policy = parse(
            r#"
            # comment
            path "secret/data/*" { capabilities = ["read", "list"] }
            // another
            path "auth/jwt/role/+" {
              capabilities = ["create", "update", "delete"]  /* trailing */
            }
            path "secret/data/*" { capabilities = ["deny"] }
            "#,
        )
        .unwrap();
        assert_eq!(policy.rules["secret/data/*"], vec![Capability::Read, Capability::List, Capability::Deny]);
        assert_eq!(policy.rules["auth/jwt/role/+"].len(), 3);
        for (bad, needle) in [
            ("path \"x\" { capabilities = [\"fly\"] }", "unknown capability"),
            ("path \"x\" { capabilities = [\"read\"]", "unterminated"),
            ("path x {}", "quoted pattern"),
            ("key \"x\" {}", "unsupported stanza"),
            ("path \"x\" { allowed_parameters = [] }", "unsupported path parameter"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(needle), "{bad}: {error}");
        }
        assert!(parse(DEFAULT_POLICY).is_ok());
    }

    #[test]
    fn json_policies_and_the_legacy_form_read_as_their_hcl() {
        let hcl = parse(
            "path \"secret/*\" { capabilities = [\"read\", \"list\"] }\npath \"auth/*\" { capabilities = [\"sudo\"] }",
        )
        .unwrap();
        let cases = [
            r#"{"path": {"secret/*": {"capabilities": ["read", "list"]}, "auth/*": {"capabilities": ["sudo"]}}}"#,
            r#"{"path": [{"secret/*": {"capabilities": ["read", "list"]}}, {"auth/*": {"capabilities": ["sudo"]}}]}"#,
            "path \"secret/*\" { policy = \"read\" }\npath \"auth/*\" { capabilities = [\"sudo\"] }",
        ];
        for text in cases {
            assert_eq!(parse(text).unwrap(), hcl, "{text}");
        }
        use Capability::*;
        for (legacy, granted) in [
            ("deny", vec![Deny]),
            ("write", vec![Create, Read, Update, Delete, List]),
            ("sudo", vec![Create, Read, Update, Delete, List, Sudo]),
        ] {
            let policy = parse(&format!("path \"x\" {{ policy = \"{legacy}\" }}")).unwrap();
            assert_eq!(policy.rules["x"], granted, "{legacy}");
        }
        for (bad, needle) in [
            (r#"{"path": {"x": {"capabilities": ["fly"]}}}"#, "line 1: unknown capability \"fly\""),
            (r#"{"path": {"x": {"allowed_parameters": {}}}}"#, "unsupported path parameter"),
            (r#"{"other": {}}"#, "unsupported stanza"),
            ("{\"path\": ", "line 1"),
            ("path \"x\" { policy = \"admin\" }", "invalid policy"),
            (
                "path \"a\" { capabilities = [\"read\"] }\n\npath \"b\" { capabilities = [\"fly\"] }",
                "line 3: unknown capability",
            ),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(needle), "{bad}: {error}");
        }
    }

    #[test]
    fn an_exact_rule_on_a_collection_grants_its_list() {
        let acl = Acl::new(&[parse("path \"auth/jwt/role\" { capabilities = [\"list\"] }").unwrap()]);
        assert_eq!(acl.capabilities("auth/jwt/role/"), vec![Capability::List]);
        assert_eq!(acl.capabilities("auth/jwt/role"), vec![Capability::List]);
        assert!(acl.capabilities("auth/jwt/role/x").is_empty());
        let slash = Acl::new(&[parse("path \"auth/jwt/role/\" { capabilities = [\"list\"] }").unwrap()]);
        assert_eq!(slash.capabilities("auth/jwt/role/"), vec![Capability::List]);
    }

    #[test]
    fn matching_and_precedence() {
        let acl = Acl::new(&[parse(
            r#"
            path "secret/*" { capabilities = ["read"] }
            path "secret/data/app" { capabilities = ["update"] }
            path "secret/data/+/config" { capabilities = ["list"] }
            path "secret/data/*" { capabilities = ["create"] }
            path "secret/private/*" { capabilities = ["deny"] }
            path "auth/+/login" { capabilities = ["update"] }
            "#,
        )
        .unwrap()]);
        use Capability::*;
        let cases: Vec<(&str, Vec<Capability>)> = vec![
            ("secret/data/app", vec![Update]),
            ("secret/data/team/config", vec![List]),
            ("secret/data/other", vec![Create]),
            ("secret/x", vec![Read]),
            ("secret/private/key", vec![]),
            ("auth/jwt/login", vec![Update]),
            ("auth/jwt/x/login", vec![]),
            ("other", vec![]),
        ];
        for (path, expected) in cases {
            assert_eq!(acl.capabilities(path), expected, "{path}");
        }
    }

    #[test]
    fn capabilities_merge_across_policies_and_deny_wins() {
        let a = parse(r#"path "secret/*" { capabilities = ["read"] }"#).unwrap();
        let b = parse(r#"path "secret/*" { capabilities = ["list"] }"#).unwrap();
        let c = parse(r#"path "secret/*" { capabilities = ["deny"] }"#).unwrap();
        assert_eq!(Acl::new([&a, &b]).capabilities("secret/x"), vec![Capability::Read, Capability::List]);
        assert!(Acl::new([&a, &b, &c]).capabilities("secret/x").is_empty());
    }
}
