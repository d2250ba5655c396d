//! Vault's audit entries: a `request` entry before a request is handled and a `response`
//! entry after, each one JSON line (or JSONx). Every string a caller could misuse is
//! `hmac-sha256:<hex>` under the device's key, as Vault decides: client tokens, accessors, and
//! every string in request and response data; names, policies and metadata stay readable.

use crate::request::Operation;
use aws_lc_rs::hmac;
use serde_json::{json, Map, Value};

/// The token a request came with, as audited.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub client_token: String,
    pub accessor: String,
    pub display_name: String,
    pub policies: Vec<String>,
    pub metadata: Value,
    pub entity_id: String,
    pub token_type: &'static str,
    pub token_ttl: i64,
    pub token_issue_time: String,
}

/// The mount a path belongs to.
#[derive(Debug, Clone, Default)]
pub struct MountInfo {
    pub point: String,
    pub kind: String,
    pub accessor: String,
    pub class: &'static str,
}

/// What both entries of a request say about it.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: String,
    pub operation: &'static str,
    pub path: String,
    pub mount: MountInfo,
    pub data: Option<Map<String, Value>>,
    pub remote_address: String,
    pub remote_port: u16,
    pub wrap_ttl: Option<i64>,
}

/// What the response entry adds.
#[derive(Debug, Clone, Default)]
pub struct ResponseInfo {
    /// The token a login or a creation issued.
    pub auth: Option<Caller>,
    pub data: Option<Value>,
    pub wrap_info: Option<Value>,
    pub warnings: Vec<String>,
}

pub fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Read | Operation::Head => "read",
        Operation::Write => "update",
        Operation::Delete => "delete",
        Operation::List => "list",
    }
}

/// A device's way of writing entries.
pub struct Format {
    pub key: hmac::Key,
    /// `log_raw`: entries hold clear text (`sys/audit-hash` still answers the HMAC).
    pub log_raw: bool,
    pub hmac_accessor: bool,
    pub elide_list_responses: bool,
    pub jsonx: bool,
    pub prefix: String,
}

impl Format {
    /// `hmac-sha256:<hex>` of `value` under the device's key.
    pub fn hmac(&self, value: &str) -> String {
        format!("hmac-sha256:{}", hex::encode(hmac::sign(&self.key, value.as_bytes()).as_ref()))
    }

    /// What an entry holds for `value`: its HMAC, or the value itself with `log_raw`.
    pub fn hash(&self, value: &str) -> String {
        if self.log_raw {
            return value.to_owned();
        }
        self.hmac(value)
    }

    fn accessor(&self, value: &str) -> String {
        if self.hmac_accessor {
            self.hash(value)
        } else {
            value.to_owned()
        }
    }

    /// Every string inside `value`, hashed (Vault's HashStructure).
    fn structure(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.hash(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.structure(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.structure(v))).collect()),
            other => other.clone(),
        }
    }

    fn caller(&self, caller: &Caller, allowed: Option<bool>) -> Value {
        let mut auth = Map::new();
        let mut put = |key: &str, value: Value| {
            let empty = matches!(&value, Value::Null) || value.as_str() == Some("") || value.as_i64() == Some(0);
            if !empty {
                auth.insert(key.to_owned(), value);
            }
        };
        if !caller.client_token.is_empty() {
            put("client_token", json!(self.hash(&caller.client_token)));
        }
        if !caller.accessor.is_empty() {
            put("accessor", json!(self.accessor(&caller.accessor)));
        }
        put("display_name", json!(caller.display_name));
        if !caller.policies.is_empty() {
            put("policies", json!(caller.policies));
            put("token_policies", json!(caller.policies));
        }
        if let Some(allowed) = allowed {
            put("policy_results", json!({ "allowed": allowed }));
        }
        put("metadata", caller.metadata.clone());
        put("entity_id", json!(caller.entity_id));
        put("token_type", json!(caller.token_type));
        put("token_ttl", json!(caller.token_ttl));
        put("token_issue_time", json!(caller.token_issue_time));
        Value::Object(auth)
    }

    fn mount(&self, into: &mut Map<String, Value>, mount: &MountInfo) {
        into.insert("mount_point".into(), json!(mount.point));
        into.insert("mount_type".into(), json!(mount.kind));
        if !mount.accessor.is_empty() {
            into.insert("mount_accessor".into(), json!(mount.accessor));
        }
        into.insert("mount_class".into(), json!(mount.class));
    }

    fn request(&self, request: &RequestInfo, caller: Option<&Caller>) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(request.id));
        out.insert("operation".into(), json!(request.operation));
        self.mount(&mut out, &request.mount);
        if let Some(caller) = caller.filter(|c| !c.client_token.is_empty()) {
            out.insert("client_token".into(), json!(self.hash(&caller.client_token)));
            if !caller.accessor.is_empty() {
                out.insert("client_token_accessor".into(), json!(self.accessor(&caller.accessor)));
            }
        }
        out.insert("namespace".into(), json!({ "id": "root" }));
        out.insert("path".into(), json!(request.path));
        if let Some(data) = request.data.as_ref().filter(|d| !d.is_empty()) {
            out.insert("data".into(), self.structure(&Value::Object(data.clone())));
        }
        if let Some(ttl) = request.wrap_ttl {
            out.insert("wrap_ttl".into(), json!(ttl));
        }
        out.insert("remote_address".into(), json!(request.remote_address));
        if request.remote_port != 0 {
            out.insert("remote_port".into(), json!(request.remote_port));
        }
        Value::Object(out)
    }

    fn response(&self, request: &RequestInfo, response: &ResponseInfo, error: Option<&str>) -> Value {
        let mut out = Map::new();
        if let Some(auth) = &response.auth {
            out.insert("auth".into(), self.caller(auth, None));
        }
        self.mount(&mut out, &request.mount);
        let data = match (error, &response.data) {
            (Some(error), _) => Some(json!({ "error": error })),
            (None, data) => data.clone().filter(|d| !d.is_null()),
        };
        if let Some(mut data) = data {
            if self.elide_list_responses && request.operation == "list" {
                elide(&mut data);
            }
            out.insert("data".into(), self.structure(&data));
        }
        if let Some(info) = &response.wrap_info {
            let mut info = info.clone();
            for key in ["token", "accessor", "wrapped_accessor"] {
                if let Some(text) = info.get(key).and_then(Value::as_str).map(str::to_owned) {
                    let hashed = if key == "token" { self.hash(&text) } else { self.accessor(&text) };
                    info[key] = json!(hashed);
                }
            }
            out.insert("wrap_info".into(), info);
        }
        if !response.warnings.is_empty() {
            out.insert("warnings".into(), json!(response.warnings));
        }
        Value::Object(out)
    }

    /// The `request` part of both entries of a request, serialised once per device.
    pub fn request_section(&self, request: &RequestInfo, caller: Option<&Caller>) -> String {
        self.request(request, caller).to_string()
    }

    /// One entry, as the line the device writes; `section` is [`Format::request_section`].
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &self,
        time: &str,
        caller: Option<&Caller>,
        allowed: bool,
        request: &RequestInfo,
        section: &str,
        response: Option<&ResponseInfo>,
        error: Option<&str>,
    ) -> Vec<u8> {
        let auth = match caller {
            Some(caller) => self.caller(caller, Some(allowed)),
            None => json!({ "policy_results": { "allowed": allowed }, "token_type": "default" }),
        };
        let kind = if response.is_some() { "response" } else { "request" };
        // Assembled as text around the already serialised request part, in Vault's key order.
        let mut entry = format!("{{\"time\":{},\"type\":\"{kind}\",\"auth\":{auth},\"request\":{section}", json!(time));
        if let Some(response) = response {
            entry.push_str(&format!(",\"response\":{}", self.response(request, response, error)));
        }
        if let Some(error) = error {
            entry.push_str(&format!(",\"error\":{}", json!(error)));
        }
        entry.push('}');
        let mut line = self.prefix.clone().into_bytes();
        match self.jsonx.then(|| serde_json::from_str::<Value>(&entry)) {
            Some(Ok(parsed)) => jsonx(&parsed, None, &mut line),
            _ => line.extend_from_slice(entry.as_bytes()),
        }
        line.push(b'\n');
        line
    }
}

/// `elide_list_responses`: a list's keys become their count, as Vault does.
fn elide(data: &mut Value) {
    for key in ["keys", "key_info"] {
        let count = match data.get(key) {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Object(map)) => map.len(),
            _ => continue,
        };
        data[key] = json!(count);
    }
}

/// IBM's JSONx, Vault's `format = "jsonx"`: the same entry as XML.
fn jsonx(value: &Value, name: Option<&str>, out: &mut Vec<u8>) {
    if name.is_none() {
        out.extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8"?>"#);
    }
    let (tag, text) = match value {
        Value::Null => ("null", None),
        Value::Bool(b) => ("boolean", Some(b.to_string())),
        Value::Number(n) => ("number", Some(n.to_string())),
        Value::String(s) => ("string", Some(escape(s))),
        Value::Array(_) => ("array", None),
        Value::Object(_) => ("object", None),
    };
    out.extend_from_slice(format!("<json:{tag}").as_bytes());
    if name.is_none() {
        out.extend_from_slice(br#" xmlns:json="http://www.ibm.com/xmlns/prod/2009/jsonx""#);
    }
    if let Some(name) = name {
        out.extend_from_slice(format!(" name=\"{}\"", escape(name)).as_bytes());
    }
    match value {
        Value::Array(items) => {
            out.push(b'>');
            for item in items {
                jsonx(item, Some(""), out);
            }
        }
        Value::Object(map) => {
            out.push(b'>');
            for (key, item) in map {
                jsonx(item, Some(key), out);
            }
        }
        Value::Null => {
            out.extend_from_slice(b"/>");
            return;
        }
        _ => {
            out.push(b'>');
            out.extend_from_slice(text.unwrap_or_default().as_bytes());
        }
    }
    out.extend_from_slice(format!("</json:{tag}>").as_bytes());
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry as text, its request part serialised as the trail does.
    fn entry(
        format: &Format,
        caller: Option<&Caller>,
        allowed: bool,
        request: &RequestInfo,
        response: Option<&ResponseInfo>,
        error: Option<&str>,
    ) -> String {
        let section = format.request_section(request, caller);
        String::from_utf8(format.line("t", caller, allowed, request, &section, response, error)).unwrap()
    }

    fn format(raw: bool, hmac_accessor: bool) -> Format {
        Format {
            key: hmac::Key::new(hmac::HMAC_SHA256, b"salt"),
            log_raw: raw,
            hmac_accessor,
            elide_list_responses: false,
            jsonx: false,
            prefix: String::new(),
        }
    }

    fn login() -> (Caller, RequestInfo, ResponseInfo) {
        let request = RequestInfo {
            id: "req-1".into(),
            operation: "update",
            path: "auth/jwt/login".into(),
            mount: MountInfo {
                point: "auth/jwt/".into(),
                kind: "jwt".into(),
                accessor: "auth_jwt_1".into(),
                class: "auth",
            },
            data: Some(json!({"role": "app", "jwt": "eyJ.secret.jwt"}).as_object().unwrap().clone()),
            remote_address: "127.0.0.1".into(),
            remote_port: 40000,
            wrap_ttl: None,
        };
        let issued = Caller {
            client_token: "jgs.issued".into(),
            accessor: "acc-issued".into(),
            display_name: "jwt-system:serviceaccount:ns:app".into(),
            policies: vec!["default".into()],
            metadata: json!({"role": "app"}),
            token_type: "service",
            token_ttl: 3600,
            ..Caller::default()
        };
        (issued.clone(), request, ResponseInfo { auth: Some(issued), ..ResponseInfo::default() })
    }

    #[test]
    fn secrets_are_hashed_and_who_logged_in_stays_readable() {
        let (_, request, response) = login();
        let format = format(false, true);
        let line = entry(&format, None, true, &request, Some(&response), None);
        for secret in ["eyJ.secret.jwt", "jgs.issued", "acc-issued"] {
            assert!(!line.contains(secret), "{secret} in {line}");
            assert!(line.contains(&format.hash(secret)), "{secret}'s hash missing from {line}");
        }
        let entry: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(entry["type"], "response");
        assert_eq!(entry["response"]["auth"]["display_name"], "jwt-system:serviceaccount:ns:app");
        assert_eq!(entry["response"]["auth"]["metadata"]["role"], "app");
        assert_eq!(entry["request"]["mount_point"], "auth/jwt/");
        assert_eq!(entry["request"]["remote_port"], 40000);
    }

    #[test]
    fn options_change_what_is_hashed_and_how_it_is_written() {
        let (caller, request, _) = login();
        let cases: [(&str, Format, &[&str], &[&str]); 3] = [
            ("log_raw", format(true, true), &["eyJ.secret.jwt", "jgs.issued", "acc-issued"], &[]),
            ("hmac_accessor=false", format(false, false), &["acc-issued"], &["jgs.issued", "eyJ.secret.jwt"]),
            ("defaults", format(false, true), &[], &["jgs.issued", "acc-issued", "eyJ.secret.jwt"]),
        ];
        for (name, format, clear, hidden) in cases {
            let line = entry(&format, Some(&caller), true, &request, None, None);
            for text in clear {
                assert!(line.contains(text), "{name}: {text} should be in clear: {line}");
            }
            for text in hidden {
                assert!(!line.contains(text), "{name}: {text} should be hashed: {line}");
            }
        }
        let jsonx = Format { jsonx: true, prefix: "AUDIT:".into(), ..format(false, true) };
        let line = entry(&jsonx, None, false, &request, None, Some("a <bad> one"));
        assert!(line.starts_with("AUDIT:<?xml"), "{line}");
        assert!(line.contains(r#"<json:string name="error">a &lt;bad&gt; one</json:string>"#), "{line}");
        assert!(line.ends_with("</json:object>\n"), "{line}");
    }

    #[test]
    fn listed_keys_are_elided_when_asked() {
        let (_, mut request, _) = login();
        request.operation = "list";
        let response = ResponseInfo { data: Some(json!({"keys": ["a", "b", "c"]})), ..ResponseInfo::default() };
        let format = Format { elide_list_responses: true, ..format(false, true) };
        let entry: Value = serde_json::from_str(&entry(&format, None, true, &request, Some(&response), None)).unwrap();
        assert_eq!(entry["response"]["data"]["keys"], 3);
    }
}
