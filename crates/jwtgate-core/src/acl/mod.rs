//! Vault's ACL policy language (the HCL subset policies use) and its evaluation:
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
"#;

/// Parses a policy. Errors name the line.
pub fn parse(text: &str) -> Result<Policy, String> {
    let tokens = tokenize(text)?;
    let mut policy = Policy::default();
    let mut position = 0;
    let next = |position: &mut usize| -> Option<&Token> {
        let token = tokens.get(*position);
        *position += 1;
        token
    };
    while let Some(token) = next(&mut position) {
        let Token { kind: Kind::Ident(word), line } = token else {
            return Err(format!("line {}: expected `path`", token.line));
        };
        if word != "path" {
            return Err(format!("line {line}: unsupported stanza {word:?} (only `path` blocks are supported)"));
        }
        let pattern = match next(&mut position) {
            Some(Token { kind: Kind::Str(pattern), .. }) => pattern.trim_start_matches('/').to_owned(),
            _ => return Err(format!("line {line}: `path` needs a quoted pattern")),
        };
        match next(&mut position) {
            Some(Token { kind: Kind::Open, .. }) => {}
            _ => return Err(format!("line {line}: expected `{{` after path {pattern:?}")),
        }
        let mut capabilities = None;
        loop {
            match next(&mut position) {
                Some(Token { kind: Kind::Close, .. }) => break,
                Some(Token { kind: Kind::Ident(key), line }) => {
                    match next(&mut position) {
                        Some(Token { kind: Kind::Equals, .. }) => {}
                        _ => return Err(format!("line {line}: expected `=` after {key}")),
                    }
                    let list = parse_list(&tokens, &mut position, *line)?;
                    match key.as_str() {
                        "capabilities" => {
                            let mut parsed = Vec::new();
                            for name in list {
                                match Capability::parse(&name) {
                                    Some(capability) => parsed.push(capability),
                                    None if ["patch", "subscribe", "recover"].contains(&name.as_str()) => {}
                                    None => return Err(format!("line {line}: unknown capability {name:?}")),
                                }
                            }
                            capabilities = Some(parsed);
                        }
                        other => return Err(format!("line {line}: unsupported path parameter {other:?}")),
                    }
                }
                _ => return Err(format!("line {line}: unterminated path block {pattern:?}")),
            }
        }
        let entry = policy.rules.entry(pattern).or_default();
        entry.extend(capabilities.unwrap_or_default());
        entry.sort();
        entry.dedup();
    }
    Ok(policy)
}

fn parse_list(tokens: &[Token], position: &mut usize, line: usize) -> Result<Vec<String>, String> {
    match tokens.get(*position) {
        Some(Token { kind: Kind::OpenList, .. }) => *position += 1,
        _ => return Err(format!("line {line}: expected a list")),
    }
    let mut items = Vec::new();
    loop {
        let token = tokens.get(*position).ok_or_else(|| format!("line {line}: unterminated list"))?;
        *position += 1;
        match &token.kind {
            Kind::CloseList => return Ok(items),
            Kind::Comma => {}
            Kind::Str(item) => items.push(item.clone()),
            _ => return Err(format!("line {}: expected a string in the list", token.line)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    Str(String),
    Open,
    Close,
    OpenList,
    CloseList,
    Equals,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    line: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        let kind = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
                continue;
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
                continue;
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                loop {
                    let c = chars.next().ok_or_else(|| format!("line {line}: unterminated comment"))?;
                    if c == '\n' {
                        line += 1;
                    }
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                continue;
            }
            '{' => Kind::Open,
            '}' => Kind::Close,
            '[' => Kind::OpenList,
            ']' => Kind::CloseList,
            '=' => Kind::Equals,
            ',' => Kind::Comma,
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => return Err(format!("line {line}: unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            value.push(chars.next().ok_or_else(|| format!("line {line}: unterminated string"))?)
                        }
                        Some(c) => value.push(c),
                    }
                }
                Kind::Str(value)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    word.extend(chars.next());
                }
                Kind::Ident(word)
            }
            other => return Err(format!("line {line}: unexpected character {other:?}")),
        };
        tokens.push(Token { kind, line });
    }
    Ok(tokens)
}

/// A token's merged policies.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    rules: BTreeMap<String, Vec<Capability>>,
}

impl Acl {
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
        let granted = match self.rules.get(path) {
            Some(exact) if !path.contains('*') && !path.contains('+') => exact.clone(),
            _ => self
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
