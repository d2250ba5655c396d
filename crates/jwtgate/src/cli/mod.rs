//! The Vault-style client commands: the seed's `vault ...` lines work with `vault` replaced by
//! `jwtgate`. Each command builds one request, sends it, and prints what vault would print.

mod args;
mod client;
mod output;

use args::{Inputs, Parsed, RealInputs};
use client::{api_error, Answer, Client};
use serde_json::{json, Value};

/// Exit codes as the vault CLI uses them: 1 for errors, 2 for usage and "no value found".
pub enum Failure {
    Error(String),
    Usage(String),
    NotFound(String),
}

type Outcome = Result<String, Failure>;

fn error(text: impl Into<String>) -> Failure {
    Failure::Error(text.into())
}

/// Runs `jwtgate <command> <args...>` for the client commands; `None` if `command` is not one.
pub fn run(command: &str, rest: &[String]) -> Option<Outcome> {
    let (command, rest) = match (command, rest.first().map(String::as_str)) {
        ("auth" | "token" | "policy" | "operator" | "jwks" | "audit", Some(sub)) => {
            (format!("{command} {sub}"), &rest[1..])
        }
        _ => (command.to_owned(), rest),
    };
    let parsed = match args::parse(rest) {
        Ok(parsed) => parsed,
        Err(message) => return Some(Err(Failure::Usage(message))),
    };
    let outcome = match command.as_str() {
        "write" => write(&parsed),
        "read" => read(&parsed),
        "list" => list(&parsed),
        "delete" => path_arg(&parsed, "jwtgate delete [options] PATH").and_then(|path| {
            request(&parsed, "DELETE", &path, None).map(|_| format!("Success! Data deleted (if it existed) at: {path}"))
        }),
        "login" => login(&parsed),
        "status" => status(&parsed),
        "auth enable" => auth_enable(&parsed),
        "auth disable" => {
            let path = parsed.positional.first().map(|p| p.trim_end_matches('/').to_owned()).unwrap_or_default();
            request(&parsed, "DELETE", &format!("sys/auth/{path}"), None)
                .map(|_| format!("Success! Disabled the auth method (if it existed) at: {path}/"))
        }
        "auth list" => auth_list(&parsed),
        "auth tune" => auth_tune(&parsed),
        "token lookup" => token_command(&parsed, "lookup"),
        "token renew" => token_command(&parsed, "renew"),
        "token revoke" => token_command(&parsed, "revoke"),
        "policy write" => policy_write(&parsed),
        "policy read" => policy_read(&parsed),
        "policy list" => request(&parsed, "LIST", "sys/policies/acl", None).map(|a| keys(&a.body)),
        "policy delete" => {
            let name = parsed.positional.first().cloned().unwrap_or_default();
            request(&parsed, "DELETE", &format!("sys/policies/acl/{name}"), None)
                .map(|_| format!("Success! Deleted policy: {name}"))
        }
        "operator init" => operator_init(&parsed),
        "audit enable" => audit_enable(&parsed),
        "audit list" => audit_list(&parsed),
        "audit disable" => path_arg(&parsed, "jwtgate audit disable [options] PATH").and_then(|path| {
            let path = path.trim_matches('/');
            request(&parsed, "DELETE", &format!("sys/audit/{path}"), None)
                .map(|_| format!("Success! Disabled audit device (if it was enabled) at: {path}/"))
        }),
        "jwks to-pem" => jwks_to_pem(&parsed),
        _ => return None,
    };
    Some(outcome)
}

fn client(parsed: &Parsed) -> Result<Client, Failure> {
    Client::new(parsed).map_err(Failure::Error)
}

/// One request; any status of 400 or more becomes vault's error block.
fn request(parsed: &Parsed, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, Failure> {
    let client = client(parsed)?;
    let answer = client.request(method, path, body).map_err(Failure::Error)?;
    if answer.status >= 400 {
        let action = match method {
            "GET" => format!("Error reading {path}"),
            "LIST" => format!("Error listing {path}"),
            "DELETE" => format!("Error deleting {path}"),
            _ => format!("Error writing data to {path}"),
        };
        return Err(error(api_error(&action, method, &client.url(path), &answer)));
    }
    Ok(answer)
}

/// Prints a response: `-format=json`, `-field=NAME`, or a table.
fn show(parsed: &Parsed, body: &Value) -> Outcome {
    if let Some(name) = parsed.flag("field") {
        return output::field(body, name).ok_or_else(|| error(format!("Field {name:?} not present in secret")));
    }
    match parsed.flag("format").unwrap_or("table") {
        "json" => Ok(serde_json::to_string_pretty(body).unwrap_or_default()),
        "table" => Ok(output::table(&output::rows(body)).trim_end().to_owned()),
        other => Err(Failure::Usage(format!("invalid output format: {other}"))),
    }
}

fn path_arg(parsed: &Parsed, usage: &str) -> Result<String, Failure> {
    parsed.positional.first().cloned().ok_or_else(|| Failure::Usage(format!("not enough arguments\n\nUsage: {usage}")))
}

fn write(parsed: &Parsed) -> Outcome {
    let path = path_arg(parsed, "jwtgate write [options] PATH [DATA K=V...]")?;
    let body = args::data(&parsed.positional[1..], &RealInputs).map_err(Failure::Usage)?;
    let answer = request(parsed, "PUT", &path, Some(&Value::Object(body)))?;
    if answer.status == 204 || answer.body.is_null() {
        return Ok(format!("Success! Data written to: {path}"));
    }
    show(parsed, &answer.body)
}

fn not_found(path: &str) -> Failure {
    Failure::NotFound(format!("No value found at {path}"))
}

fn read(parsed: &Parsed) -> Outcome {
    let path = path_arg(parsed, "jwtgate read [options] PATH")?;
    let answer = client(parsed)?.request("GET", &path, None).map_err(Failure::Error)?;
    if answer.status == 404 && answer.body["errors"].as_array().is_some_and(Vec::is_empty) {
        return Err(not_found(&path));
    }
    let answer = if answer.status >= 400 { request(parsed, "GET", &path, None)? } else { answer };
    show(parsed, &answer.body)
}

fn keys(body: &Value) -> String {
    let keys: Vec<String> =
        body["data"]["keys"].as_array().map(|k| k.iter().map(output::plain).collect()).unwrap_or_default();
    keys.join("\n")
}

fn list(parsed: &Parsed) -> Outcome {
    let path = path_arg(parsed, "jwtgate list [options] PATH")?;
    let answer = client(parsed)?.request("LIST", &path, None).map_err(Failure::Error)?;
    if answer.status == 404 {
        return Err(not_found(&format!("{}/", path.trim_end_matches('/'))));
    }
    let answer = if answer.status >= 400 { request(parsed, "LIST", &path, None)? } else { answer };
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&answer.body["data"]["keys"]).unwrap_or_default());
    }
    Ok(format!("Keys\n----\n{}", keys(&answer.body)))
}

fn login(parsed: &Parsed) -> Outcome {
    let method = parsed.flag("method").unwrap_or("token");
    if method != "jwt" && method != "kubernetes" {
        return Err(Failure::Usage(format!(
            "unsupported login method {method:?}: use -method=jwt or -method=kubernetes"
        )));
    }
    // Each method's default mount is its own name, as in Vault.
    let mount = parsed.flag("path").unwrap_or(method).trim_matches('/').to_owned();
    let body = args::data(&parsed.positional, &RealInputs).map_err(Failure::Usage)?;
    let answer = request(parsed, "PUT", &format!("auth/{mount}/login"), Some(&Value::Object(body)))?;
    let token = answer.body["auth"]["client_token"].as_str().unwrap_or_default().to_owned();
    if !parsed.has("no-store") {
        if let Some(path) = client::token_file() {
            write_private(&path, &token)
                .map_err(|e| error(format!("error storing the token in {}: {e}", path.display())))?;
        }
    }
    if parsed.flag("field").is_some() || parsed.flag("format") == Some("json") {
        return show(parsed, &answer.body);
    }
    let table = show(parsed, &answer.body)?;
    Ok(format!(
        "Success! You are now authenticated. The token information displayed below\nis already stored in the token helper. You do NOT need to run \"jwtgate login\"\nagain. Future requests will automatically use this token.\n\n{table}"
    ))
}

/// Writes the token helper file readable by its owner only.
fn write_private(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(token.as_bytes())
}

fn status(parsed: &Parsed) -> Outcome {
    let client = client(parsed)?;
    let answer = client.request("GET", "sys/health?uninitcode=200&sealedcode=200", None).map_err(Failure::Error)?;
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&answer.body).unwrap_or_default());
    }
    let body = &answer.body;
    let rows = [
        ("Seal Type", "n/a".to_owned()),
        ("Initialized", output::plain(&body["initialized"])),
        ("Sealed", output::plain(&body["sealed"])),
        ("Version", output::plain(&body["version"])),
        ("Cluster Name", output::plain(&body["cluster_name"])),
        ("HA Enabled", "false".to_owned()),
    ];
    let rows: Vec<(String, String)> = rows.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Ok(output::table(&rows).trim_end().to_owned())
}

fn auth_enable(parsed: &Parsed) -> Outcome {
    let kind = path_arg(parsed, "jwtgate auth enable [options] TYPE")?;
    let path = parsed.flag("path").unwrap_or(&kind).trim_matches('/').to_owned();
    let body = json!({
        "type": kind, "description": parsed.flag("description").unwrap_or_default(),
        "config": {"default_lease_ttl": "0s", "max_lease_ttl": "0s"},
        "local": false, "seal_wrap": false, "external_entropy_access": false, "options": null
    });
    request(parsed, "POST", &format!("sys/auth/{path}"), Some(&body))?;
    Ok(format!("Success! Enabled {kind} auth method at: {path}/"))
}

/// `audit enable [-path=P] [-description=D] TYPE [K=V...]`: the options as vault sends them.
fn audit_enable(parsed: &Parsed) -> Outcome {
    let kind = path_arg(parsed, "jwtgate audit enable [options] TYPE [CONFIG K=V...]")?;
    let path = parsed.flag("path").unwrap_or(&kind).trim_matches('/').to_owned();
    let options = args::data(&parsed.positional[1..], &RealInputs).map_err(Failure::Usage)?;
    let body = json!({
        "type": kind, "description": parsed.flag("description").unwrap_or_default(),
        "options": options, "local": parsed.has("local"),
    });
    request(parsed, "PUT", &format!("sys/audit/{path}"), Some(&body))?;
    Ok(format!("Success! Enabled the {kind} audit device at: {path}/"))
}

/// `audit list [-detailed]`, as vault prints it.
fn audit_list(parsed: &Parsed) -> Outcome {
    let answer = request(parsed, "GET", "sys/audit", None)?;
    let devices = answer.body["data"].as_object().cloned().unwrap_or_default();
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&devices).unwrap_or_default());
    }
    if devices.is_empty() {
        return Err(Failure::NotFound("No audit devices are enabled.".into()));
    }
    let detailed = parsed.has("detailed");
    let mut rows = vec![vec!["Path".to_owned(), "Type".into(), "Description".into()]];
    if detailed {
        rows[0].extend(["Replication".to_owned(), "Options".into()]);
    }
    for (path, device) in &devices {
        let description = Some(output::plain(&device["description"])).filter(|d| !d.is_empty());
        let mut row = vec![path.clone(), output::plain(&device["type"]), description.unwrap_or_else(|| "n/a".into())];
        if detailed {
            let options = device["options"].as_object().cloned().unwrap_or_default();
            let options: Vec<String> = options.iter().map(|(k, v)| format!("{k}={}", output::plain(v))).collect();
            row.extend(["replicated".to_owned(), options.join(" ")]);
        }
        rows.push(row);
    }
    Ok(columns(&rows))
}

/// Rows in columns four spaces apart, with a dashed line under the header, as vault's lists.
fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    let dashes: Vec<String> = rows[0].iter().map(|h| "-".repeat(h.len())).collect();
    let mut out = String::new();
    for row in std::iter::once(&rows[0]).chain(std::iter::once(&dashes)).chain(&rows[1..]) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("    ").trim_end());
        out.push('\n');
    }
    out.trim_end().to_owned()
}

fn auth_list(parsed: &Parsed) -> Outcome {
    let answer = request(parsed, "GET", "sys/auth", None)?;
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&answer.body["data"]).unwrap_or_default());
    }
    let mounts = answer.body["data"].as_object().cloned().unwrap_or_default();
    let width = mounts.keys().map(String::len).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}    {:<8}    {:<24}    Description\n{:<width$}    {:<8}    {:<24}    -----------\n",
        "Path", "Type", "Accessor", "----", "----", "--------"
    );
    for (path, mount) in mounts {
        let (kind, accessor, description) =
            (output::plain(&mount["type"]), output::plain(&mount["accessor"]), output::plain(&mount["description"]));
        out.push_str(&format!("{path:<width$}    {kind:<8}    {accessor:<24}    {description}\n"));
    }
    Ok(out.trim_end().to_owned())
}

fn auth_tune(parsed: &Parsed) -> Outcome {
    let path = path_arg(parsed, "jwtgate auth tune [options] PATH")?.trim_matches('/').to_owned();
    let mut body = serde_json::Map::new();
    for (flag, field) in [
        ("default-lease-ttl", "default_lease_ttl"),
        ("max-lease-ttl", "max_lease_ttl"),
        ("token-type", "token_type"),
        ("description", "description"),
    ] {
        if let Some(value) = parsed.flag(flag) {
            body.insert(field.into(), json!(value));
        }
    }
    request(parsed, "POST", &format!("sys/auth/{path}/tune"), Some(&Value::Object(body)))?;
    Ok(format!("Success! Tuned the auth method at: {path}/"))
}

/// `token lookup|renew|revoke [-self] [-accessor] [TOKEN]`.
fn token_command(parsed: &Parsed, action: &str) -> Outcome {
    let (path, body) = match parsed.positional.first() {
        Some(accessor) if parsed.has("accessor") => {
            (format!("auth/token/{action}-accessor"), json!({ "accessor": accessor }))
        }
        Some(token) if !parsed.has("self") => (format!("auth/token/{action}"), json!({ "token": token })),
        _ => (format!("auth/token/{action}-self"), json!({})),
    };
    let mut body = body;
    if let Some(increment) = parsed.flag("increment") {
        body["increment"] = json!(increment);
    }
    let (method, body) = if path == "auth/token/lookup-self" { ("GET", None) } else { ("PUT", Some(&body)) };
    let answer = request(parsed, method, &path, body)?;
    if action == "revoke" {
        return Ok("Success! Revoked token (if it existed)".into());
    }
    show(parsed, &answer.body)
}

fn policy_write(parsed: &Parsed) -> Outcome {
    let (Some(name), Some(source)) = (parsed.positional.first(), parsed.positional.get(1)) else {
        return Err(Failure::Usage("not enough arguments\n\nUsage: jwtgate policy write NAME FILE|-".into()));
    };
    let text = if source == "-" { RealInputs.stdin() } else { RealInputs.file(source) }.map_err(Failure::Error)?;
    request(parsed, "PUT", &format!("sys/policies/acl/{name}"), Some(&json!({ "policy": text })))?;
    Ok(format!("Success! Uploaded policy: {name}"))
}

fn policy_read(parsed: &Parsed) -> Outcome {
    let name = path_arg(parsed, "jwtgate policy read NAME")?;
    let answer = client(parsed)?.request("GET", &format!("sys/policies/acl/{name}"), None).map_err(Failure::Error)?;
    if answer.status == 404 {
        return Err(Failure::NotFound(format!("No policy named: {name}")));
    }
    let answer =
        if answer.status >= 400 { request(parsed, "GET", &format!("sys/policies/acl/{name}"), None)? } else { answer };
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&answer.body).unwrap_or_default());
    }
    Ok(output::plain(&answer.body["data"]["policy"]).trim_end().to_owned())
}

fn operator_init(parsed: &Parsed) -> Outcome {
    let answer = request(parsed, "PUT", "sys/init", Some(&json!({})))?;
    if parsed.flag("format") == Some("json") {
        return Ok(serde_json::to_string_pretty(&answer.body).unwrap_or_default());
    }
    Ok(format!(
        "Initial Root Token: {}\n\njwtgate is initialized. It has no seal: the root token is the only secret\nthis command prints. Use it to set up auth methods and policies, then revoke it.",
        output::plain(&answer.body["root_token"])
    ))
}

/// `jwtgate jwks to-pem [FILE|-]`: a JWKS to PEM public keys, one `# kid:` line before each.
fn jwks_to_pem(parsed: &Parsed) -> Outcome {
    let source = parsed.positional.first().map_or("-", String::as_str);
    let text = if source == "-" { RealInputs.stdin() } else { RealInputs.file(source) }.map_err(Failure::Error)?;
    let keys =
        jwtgate_verifier::parse_jwks(&text).map_err(|e| error(format!("error reading JWKS from {source}: {e}")))?;
    if keys.is_empty() {
        return Err(error(format!("error reading JWKS from {source}: it holds no signing keys")));
    }
    Ok(jwtgate_verifier::to_pem_with_kids(&keys).trim_end().to_owned())
}

/// Shell completion scripts.
pub fn completion(shell: &str) -> Option<String> {
    const COMMANDS: &str =
        "server auth write read list delete login token policy audit operator status jwks completion help";
    Some(match shell {
        "bash" => format!(
            "_jwtgate() {{\n  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[1]}}\n  if [ \"$COMP_CWORD\" -eq 1 ]; then COMPREPLY=( $(compgen -W \"{COMMANDS}\" -- \"$cur\") ); return; fi\n  case \"$prev\" in\n    auth) COMPREPLY=( $(compgen -W \"enable disable list tune\" -- \"$cur\") ) ;;\n    token) COMPREPLY=( $(compgen -W \"lookup renew revoke\" -- \"$cur\") ) ;;\n    policy) COMPREPLY=( $(compgen -W \"write read list delete\" -- \"$cur\") ) ;;\n    operator) COMPREPLY=( $(compgen -W \"init\" -- \"$cur\") ) ;;\n    audit) COMPREPLY=( $(compgen -W \"enable list disable\" -- \"$cur\") ) ;;\n    jwks) COMPREPLY=( $(compgen -W \"to-pem\" -- \"$cur\") ) ;;\n    completion) COMPREPLY=( $(compgen -W \"bash zsh fish\" -- \"$cur\") ) ;;\n    *) COMPREPLY=( $(compgen -f -- \"$cur\") ) ;;\n  esac\n}}\ncomplete -F _jwtgate jwtgate\n"
        ),
        "zsh" => format!(
            "#compdef jwtgate\n_jwtgate() {{\n  local -a commands\n  commands=({COMMANDS})\n  if (( CURRENT == 2 )); then _describe 'command' commands; return; fi\n  case $words[2] in\n    auth) _values 'subcommand' enable disable list tune ;;\n    token) _values 'subcommand' lookup renew revoke ;;\n    policy) _values 'subcommand' write read list delete ;;\n    operator) _values 'subcommand' init ;;\n    audit) _values 'subcommand' enable list disable ;;\n    jwks) _values 'subcommand' to-pem ;;\n    completion) _values 'shell' bash zsh fish ;;\n    *) _files ;;\n  esac\n}}\ncompdef _jwtgate jwtgate\n"
        ),
        "fish" => {
            let mut script = format!("complete -c jwtgate -f -n '__fish_use_subcommand' -a '{COMMANDS}'\n");
            for (command, subs) in [("auth", "enable disable list tune"), ("token", "lookup renew revoke"), ("policy", "write read list delete"), ("operator", "init"), ("audit", "enable list disable"), ("jwks", "to-pem"), ("completion", "bash zsh fish")] {
                script.push_str(&format!("complete -c jwtgate -f -n '__fish_seen_subcommand_from {command}' -a '{subs}'\n"));
            }
            script
        }
        _ => return None,
    })
}
