//! Vault-like output: key/value tables by default, the API's JSON with `-format=json`, one value
//! with `-field=NAME`.

use serde_json::{Map, Value};

/// A value as the vault CLI prints it (Go's `%v`).
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => "n/a".into(),
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            format!("map[{}]", map.iter().map(|(k, v)| format!("{k}:{}", plain(v))).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}

/// A two-column table with Vault's header.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(3);
    let mut out = format!("{:<width$}    Value\n{:<width$}    -----\n", "Key", "---");
    for (key, value) in rows {
        out.push_str(&format!("{key:<width$}    {value}\n"));
    }
    out
}

/// The rows of a response: an `auth` block as vault's token fields, else the `data` map.
pub fn rows(body: &Value) -> Vec<(String, String)> {
    if let Some(auth) = body.get("auth").filter(|a| a.is_object()) {
        let mut rows = vec![
            ("token".to_owned(), plain(&auth["client_token"])),
            ("token_accessor".to_owned(), plain(&auth["accessor"])),
            ("token_duration".to_owned(), duration(auth["lease_duration"].as_i64().unwrap_or(0))),
            ("token_renewable".to_owned(), plain(&auth["renewable"])),
            ("token_policies".to_owned(), json_list(&auth["token_policies"])),
            ("identity_policies".to_owned(), "[]".to_owned()),
            ("policies".to_owned(), json_list(&auth["policies"])),
        ];
        if let Some(meta) = auth.get("metadata").and_then(Value::as_object) {
            rows.extend(meta.iter().map(|(k, v)| (format!("token_meta_{k}"), plain(v))));
        }
        return rows;
    }
    let data: Map<String, Value> = body.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut rows: Vec<(String, String)> = data.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
    rows.sort();
    rows
}

/// `-field=NAME`: from the table rows (so `token` works after a login), else from `data`.
pub fn field(body: &Value, name: &str) -> Option<String> {
    rows(body).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn json_list(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(|i| format!("{:?}", i.as_str().unwrap_or_default())).collect::<Vec<_>>().join(" ")
        ),
        _ => "[]".into(),
    }
}

/// Seconds as vault prints a duration (`1h`, `768h`, `30m`, `45s`).
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 3600 => format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        assert_eq!(plain(&json!(["a", "b"])), "[a b]");
        assert_eq!(plain(&json!({"k": "v"})), "map[k:v]");
        assert_eq!(plain(&json!(null)), "n/a");
        assert_eq!(
            [duration(3600), duration(2_764_800), duration(1800), duration(90), duration(3661)],
            ["1h", "768h", "30m", "1m30s", "1h1m1s"]
        );
        let login = json!({"auth": {"client_token": "jgs.x", "accessor": "a", "lease_duration": 3600, "renewable": true,
            "token_policies": ["default"], "policies": ["default"], "metadata": {"role": "my-role"}}});
        assert_eq!(field(&login, "token").as_deref(), Some("jgs.x"));
        assert_eq!(field(&login, "token_meta_role").as_deref(), Some("my-role"));
        let text = table(&rows(&login));
        assert!(
            text.starts_with("Key                  Value\n---                  -----\ntoken                jgs.x\n"),
            "{text}"
        );
        assert!(text.contains("token_policies       [\"default\"]"), "{text}");
    }
}
