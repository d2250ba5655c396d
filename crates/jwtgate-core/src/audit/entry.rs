//! Vault's audit entries: a `request` entry before a request is handled and a `response`
//! entry after, each one JSON line (or JSONx). Every string a caller could misuse is
//! `hmac-sha256:<hex>` under the device's key, as Vault decides: client tokens, accessors, and
//! every string in request and response data; names, policies and metadata stay readable.
//! Entries are written straight into their bytes, fields in Vault's order: an entry is built on
//! every request's path, so no JSON tree is built for it.

use crate::request::{Body, Operation};
use aws_lc_rs::hmac;
use serde_json::Value;
use std::io::Write;

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

/// What both entries of a request say about it (its body goes into the request part once).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: String,
    pub operation: &'static str,
    pub path: String,
    pub mount: MountInfo,
    pub remote_address: String,
    pub remote_port: u16,
    pub wrap_ttl: Option<i64>,
}

/// What the response entry adds, borrowed from the response.
#[derive(Debug, Clone, Default)]
pub struct ResponseInfo<'a> {
    /// The token a login or a creation issued.
    pub auth: Option<Caller>,
    pub data: Option<&'a Value>,
    pub wrap_info: Option<&'a Value>,
    pub warnings: &'a [String],
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

const HMAC_PREFIX: &str = "hmac-sha256:";

impl Format {
    /// `hmac-sha256:<hex>` of `value` under the device's key.
    pub fn hmac(&self, value: &str) -> String {
        let mut out = Vec::with_capacity(HMAC_PREFIX.len() + 64);
        self.write_hmac(value, &mut out);
        String::from_utf8(out).expect("the prefix and hex digits are ASCII")
    }

    fn write_hmac(&self, value: &str, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(HMAC_PREFIX.as_bytes());
        for byte in hmac::sign(&self.key, value.as_bytes()).as_ref() {
            out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        }
    }

    /// `value` as an entry holds it: its HMAC, or itself with `log_raw`.
    fn hashed(&self, value: &str, out: &mut Vec<u8>) {
        if self.log_raw {
            return string(value, out);
        }
        out.push(b'"');
        self.write_hmac(value, out);
        out.push(b'"');
    }

    fn accessor(&self, value: &str, out: &mut Vec<u8>) {
        match self.hmac_accessor {
            true => self.hashed(value, out),
            false => string(value, out),
        }
    }

    /// `value` with every string inside it hashed (Vault's HashStructure).
    fn structure(&self, value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::String(text) => self.hashed(text, out),
            Value::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    self.structure(item, out);
                }
                out.push(b']');
            }
            Value::Object(map) => {
                let mut object = Object::open(out);
                for (key, item) in map {
                    self.structure(item, object.key(key));
                }
                object.close();
            }
            other => json(other, out),
        }
    }

    /// The `auth` part: the caller's token (`None`: the request came without one).
    fn auth(&self, caller: Option<&Caller>, allowed: Option<bool>, out: &mut Vec<u8>) {
        let mut auth = Object::open(out);
        let Some(caller) = caller else {
            let allowed = allowed.unwrap_or_default();
            write!(auth.key("policy_results"), "{{\"allowed\":{allowed}}}").expect("writing to memory");
            auth.str("token_type", "default");
            return auth.close();
        };
        if !caller.client_token.is_empty() {
            self.hashed(&caller.client_token, auth.key("client_token"));
        }
        if !caller.accessor.is_empty() {
            self.accessor(&caller.accessor, auth.key("accessor"));
        }
        auth.str("display_name", &caller.display_name);
        if !caller.policies.is_empty() {
            json(&caller.policies, auth.key("policies"));
            json(&caller.policies, auth.key("token_policies"));
        }
        if let Some(allowed) = allowed {
            write!(auth.key("policy_results"), "{{\"allowed\":{allowed}}}").expect("writing to memory");
        }
        if !caller.metadata.is_null() {
            json(&caller.metadata, auth.key("metadata"));
        }
        auth.str("entity_id", &caller.entity_id);
        auth.str("token_type", caller.token_type);
        auth.int("token_ttl", caller.token_ttl);
        auth.str("token_issue_time", &caller.token_issue_time);
        auth.close();
    }

    fn mount(into: &mut Object, mount: &MountInfo) {
        string(&mount.point, into.key("mount_point"));
        string(&mount.kind, into.key("mount_type"));
        into.str("mount_accessor", &mount.accessor);
        string(mount.class, into.key("mount_class"));
    }

    /// The `request` part of both entries of a request, serialised once per device.
    pub fn request_section(&self, request: &RequestInfo, caller: Option<&Caller>, data: Option<&Body>) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let mut section = Object::open(&mut out);
        string(&request.id, section.key("id"));
        string(request.operation, section.key("operation"));
        Self::mount(&mut section, &request.mount);
        if let Some(caller) = caller.filter(|c| !c.client_token.is_empty()) {
            self.hashed(&caller.client_token, section.key("client_token"));
            if !caller.accessor.is_empty() {
                self.accessor(&caller.accessor, section.key("client_token_accessor"));
            }
        }
        section.key("namespace").extend_from_slice(br#"{"id":"root"}"#);
        string(&request.path, section.key("path"));
        if let Some(data) = data.filter(|d| !d.is_empty()) {
            let mut object = Object::open(section.key("data"));
            for (key, item) in data {
                self.structure(item, object.key(key));
            }
            object.close();
        }
        string(&request.remote_address, section.key("remote_address"));
        section.int("remote_port", i64::from(request.remote_port));
        if let Some(ttl) = request.wrap_ttl {
            write!(section.key("wrap_ttl"), "{ttl}").expect("writing to memory");
        }
        section.close();
        out
    }

    fn response(&self, request: &RequestInfo, response: &ResponseInfo, error: Option<&str>, out: &mut Vec<u8>) {
        let mut section = Object::open(out);
        if let Some(auth) = &response.auth {
            self.auth(Some(auth), None, section.key("auth"));
        }
        Self::mount(&mut section, &request.mount);
        // A refused request's answer is Vault's error response, `{"error": ...}`.
        if let Some(error) = error {
            let mut data = Object::open(section.key("data"));
            self.hashed(error, data.key("error"));
            data.close();
        } else if let Some(data) = response.data.filter(|d| !d.is_null()) {
            match (data, self.elide_list_responses && request.operation == "list") {
                (Value::Object(map), true) => {
                    let mut object = Object::open(section.key("data"));
                    for (key, item) in map {
                        // `elide_list_responses`: a list's keys become their count, as Vault does.
                        match (key.as_str(), item) {
                            ("keys" | "key_info", Value::Array(items)) => json(&items.len(), object.key(key)),
                            ("keys" | "key_info", Value::Object(keys)) => json(&keys.len(), object.key(key)),
                            _ => self.structure(item, object.key(key)),
                        }
                    }
                    object.close();
                }
                _ => self.structure(data, section.key("data")),
            }
        }
        if !response.warnings.is_empty() {
            json(&response.warnings, section.key("warnings"));
        }
        if let Some(Value::Object(info)) = response.wrap_info {
            let mut object = Object::open(section.key("wrap_info"));
            for (key, item) in info {
                match (key.as_str(), item) {
                    ("token", Value::String(token)) => self.hashed(token, object.key(key)),
                    ("accessor" | "wrapped_accessor", Value::String(accessor)) => {
                        self.accessor(accessor, object.key(key))
                    }
                    _ => json(item, object.key(key)),
                }
            }
            object.close();
        }
        section.close();
    }

    /// One entry, as the line the device writes; `section` is [`Format::request_section`].
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &self,
        time: &str,
        caller: Option<&Caller>,
        allowed: bool,
        request: &RequestInfo,
        section: &[u8],
        response: Option<&ResponseInfo>,
        error: Option<&str>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + 2 * section.len() + 512);
        out.extend_from_slice(self.prefix.as_bytes());
        let start = out.len();
        let mut entry = Object::open(&mut out);
        string(time, entry.key("time"));
        string(if response.is_some() { "response" } else { "request" }, entry.key("type"));
        self.auth(caller, Some(allowed), entry.key("auth"));
        entry.key("request").extend_from_slice(section);
        if let Some(response) = response {
            self.response(request, response, error, entry.key("response"));
        }
        if let Some(error) = error {
            string(error, entry.key("error"));
        }
        entry.close();
        if self.jsonx {
            if let Ok(parsed) = serde_json::from_slice::<Value>(&out[start..]) {
                out.truncate(start);
                jsonx(&parsed, None, &mut out);
            }
        }
        out.push(b'\n');
        out
    }
}

/// A JSON object being written: keys and their commas; each value is written into the bytes
/// [`Object::key`] returns.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, empty: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.empty) {
            self.out.push(b',');
        }
        string(key, self.out);
        self.out.push(b':');
        self.out
    }

    /// A string field, left out when empty (Go's `omitempty`).
    fn str(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            string(value, self.key(key));
        }
    }

    /// A number field, left out when zero.
    fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            write!(self.key(key), "{value}").expect("writing to memory");
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn string(text: &str, out: &mut Vec<u8>) {
    json(text, out);
}

fn json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    serde_json::to_writer(out, value).expect("strings, numbers and JSON values serialise to memory");
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
    use serde_json::json;

    /// One entry as text, its request part serialised as the trail does.
    fn entry(
        format: &Format,
        caller: Option<&Caller>,
        allowed: bool,
        request: &RequestInfo,
        response: Option<&ResponseInfo>,
        error: Option<&str>,
    ) -> String {
        let body = json!({"role": "app", "jwt": "eyJ.secret.jwt"}).as_object().unwrap().clone();
        let section = format.request_section(request, caller, Some(&body));
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

    fn login() -> (Caller, RequestInfo, ResponseInfo<'static>) {
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
            assert!(line.contains(&format.hmac(secret)), "{secret}'s hash missing from {line}");
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
        let listed = json!({"keys": ["a", "b", "c"]});
        let response = ResponseInfo { data: Some(&listed), ..ResponseInfo::default() };
        let format = Format { elide_list_responses: true, ..format(false, true) };
        let entry: Value = serde_json::from_str(&entry(&format, None, true, &request, Some(&response), None)).unwrap();
        assert_eq!(entry["response"]["data"]["keys"], 3);
    }
}
