//! The vault CLI's argument rules: flags before positional arguments (`-flag=v`, `-flag v`,
//! `--flag=v`, `--flag v`), and `K=V` data arguments (`K=@file`, `K=-`, a bare `-` or `@file.json`
//! merged in, repeated keys forming a list).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Flags that take no value.
const BOOLEAN_FLAGS: [&str; 6] = ["self", "accessor", "no-store", "h", "detailed", "local"];

/// Parsed flags and the remaining positional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub flags: BTreeMap<String, String>,
    pub positional: Vec<String>,
}

impl Parsed {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.flags.get(name).is_some_and(|v| v != "false")
    }
}

/// Splits flags from positional arguments. Flags stop at the first positional argument, as in
/// the vault CLI (`jwtgate write -format=json auth/jwt/config k=v`).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let is_flag = arg.starts_with('-') && arg != "-" && arg.len() > 1 && !arg.starts_with("--=");
        if !is_flag || !parsed.positional.is_empty() {
            parsed.positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            parsed.positional.extend(iter.by_ref().cloned());
            break;
        }
        let name_value = arg.trim_start_matches('-');
        let (name, value) = match name_value.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None if BOOLEAN_FLAGS.contains(&name_value) => (name_value.to_owned(), "true".to_owned()),
            None => {
                let value = iter.next().ok_or_else(|| format!("flag needs an argument: -{name_value}"))?;
                (name_value.to_owned(), value.clone())
            }
        };
        if name.is_empty() {
            return Err(format!("bad flag syntax: {arg}"));
        }
        parsed.flags.insert(name, value);
    }
    Ok(parsed)
}

/// Where `@file` and `-` read from; tests substitute files and stdin.
pub trait Inputs {
    fn file(&self, path: &str) -> Result<String, String>;
    fn stdin(&self) -> Result<String, String>;
}

/// The real filesystem and standard input.
pub struct RealInputs;

impl Inputs for RealInputs {
    fn file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| format!("error reading {path}: {e}"))
    }
    fn stdin(&self) -> Result<String, String> {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("error reading stdin: {e}"))?;
        Ok(text)
    }
}

/// Builds the request body from `K=V` arguments.
pub fn data(pairs: &[String], inputs: &dyn Inputs) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for pair in pairs {
        if pair == "-" || (pair.starts_with('@') && !pair.contains('=')) {
            let text = if pair == "-" { inputs.stdin()? } else { inputs.file(&pair[1..])? };
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(object)) => body.extend(object),
                _ => return Err(format!("failed to parse JSON input from {pair}: expected a JSON object")),
            }
            continue;
        }
        let (key, raw) = pair
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("invalid key/value pair {pair:?}: format must be key=value"))?;
        let value = if raw == "-" {
            inputs.stdin()?
        } else if let Some(path) = raw.strip_prefix('@') {
            inputs.file(path)?
        } else if let Some(literal) = raw.strip_prefix('\\') {
            // `\@x` and `\-` are the literal strings `@x` and `-`.
            literal.to_owned()
        } else {
            raw.to_owned()
        };
        match body.get_mut(key) {
            None => {
                body.insert(key.to_owned(), Value::String(value));
            }
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fake;

    impl Inputs for Fake {
        fn file(&self, path: &str) -> Result<String, String> {
            match path {
                "ca.crt" => Ok("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n".into()),
                "token" => Ok("eyJ.x.y\n".into()),
                "body.json" => Ok(r#"{"role_type":"jwt","bound_audiences":["a","b"]}"#.into()),
                "list.json" => Ok("[1]".into()),
                other => Err(format!("error reading {other}: No such file or directory (os error 2)")),
            }
        }
        fn stdin(&self) -> Result<String, String> {
            Ok(r#"{"from":"stdin"}"#.into())
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// (flags, positionals) or the error text.
    type Expected = Result<(Vec<(&'static str, &'static str)>, Vec<&'static str>), &'static str>;

    #[test]
    fn flags_and_positionals() {
        let cases: Vec<(Vec<&str>, Expected)> = vec![
            (vec!["-format=json", "auth/jwt/config"], Ok((vec![("format", "json")], vec!["auth/jwt/config"]))),
            (vec!["--format", "json", "p"], Ok((vec![("format", "json")], vec!["p"]))),
            (
                vec!["-path=jwt/a", "-description", "cluster A", "jwt"],
                Ok((vec![("description", "cluster A"), ("path", "jwt/a")], vec!["jwt"])),
            ),
            (vec!["-self"], Ok((vec![("self", "true")], vec![]))),
            (vec!["p", "-not-a-flag=x"], Ok((vec![], vec!["p", "-not-a-flag=x"]))),
            (vec!["-", "p"], Ok((vec![], vec!["-", "p"]))),
            (vec!["-field"], Err("flag needs an argument: -field")),
            (vec!["-=x"], Err("bad flag syntax: -=x")),
        ];
        for (args, expected) in cases {
            let result = parse(&strings(&args));
            match expected {
                Ok((flags, positional)) => {
                    let parsed = result.unwrap_or_else(|e| panic!("{args:?}: {e}"));
                    let flags: BTreeMap<String, String> =
                        flags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    assert_eq!(parsed, Parsed { flags, positional: strings(&positional) }, "{args:?}");
                }
                Err(message) => assert_eq!(result.unwrap_err(), message, "{args:?}"),
            }
        }
    }

    #[test]
    fn key_value_data() {
        let cases: Vec<(Vec<&str>, Result<Value, &str>)> = vec![
            (vec!["role_type=jwt", "ttl=1h"], Ok(json!({"role_type": "jwt", "ttl": "1h"}))),
            (
                vec!["oidc_discovery_ca_pem=@ca.crt"],
                Ok(json!({"oidc_discovery_ca_pem": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"})),
            ),
            (vec!["jwt=@token"], Ok(json!({"jwt": "eyJ.x.y\n"}))),
            (vec!["jwt=-"], Ok(json!({"jwt": "{\"from\":\"stdin\"}"}))),
            (
                vec!["@body.json", "user_claim=sub"],
                Ok(json!({"role_type": "jwt", "bound_audiences": ["a", "b"], "user_claim": "sub"})),
            ),
            (vec!["-"], Ok(json!({"from": "stdin"}))),
            (vec!["a=1", "a=2", "a=3"], Ok(json!({"a": ["1", "2", "3"]}))),
            (vec!["literal=\\@not-a-file", "dash=\\-"], Ok(json!({"literal": "@not-a-file", "dash": "-"}))),
            (vec!["empty="], Ok(json!({"empty": ""}))),
            (vec!["quoted=a b=c"], Ok(json!({"quoted": "a b=c"}))),
            (vec!["novalue"], Err("invalid key/value pair \"novalue\": format must be key=value")),
            (vec!["=x"], Err("invalid key/value pair \"=x\": format must be key=value")),
            (vec!["k=@missing"], Err("error reading missing: No such file or directory (os error 2)")),
            (vec!["@list.json"], Err("failed to parse JSON input from @list.json: expected a JSON object")),
        ];
        for (pairs, expected) in cases {
            let result = data(&strings(&pairs), &Fake).map(Value::Object);
            assert_eq!(result, expected.map_err(str::to_owned), "{pairs:?}");
        }
    }
}
