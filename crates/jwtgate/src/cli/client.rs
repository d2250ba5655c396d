//! The CLI's HTTP client: address, CA and token from flags and the environment, exactly one
//! request per command.

use super::args::Parsed;
use serde_json::Value;

pub struct Client {
    pub address: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// What the server answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

fn env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The token helper file (like `~/.vault-token`).
pub fn token_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".jwtgate-token"))
}

impl Client {
    /// `-address`, then `JWTGATE_ADDR`, then `VAULT_ADDR`; likewise for the CA and the token
    /// (the token falls back to the token helper file).
    pub fn new(flags: &Parsed) -> Result<Client, String> {
        let address = flags
            .flag("address")
            .map(str::to_owned)
            .or_else(|| env(&["JWTGATE_ADDR", "VAULT_ADDR"]))
            .unwrap_or_else(|| "https://127.0.0.1:8200".into());
        let ca = flags.flag("ca-cert").map(str::to_owned).or_else(|| env(&["JWTGATE_CACERT", "VAULT_CACERT"]));
        let token = env(&["JWTGATE_TOKEN", "VAULT_TOKEN"]).or_else(|| {
            token_file()
                .and_then(|path| std::fs::read_to_string(path).ok())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        });
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::NativeTls);
        if let Some(ca) = ca {
            let pem = std::fs::read_to_string(&ca).map_err(|e| format!("error reading CA certificate {ca}: {e}"))?;
            let certs = jwtgate_verifier::parse_ca_bundle(&pem).map_err(|e| format!("{ca}: {e}"))?;
            let certs: Vec<ureq::tls::Certificate<'static>> =
                certs.iter().map(|der| ureq::tls::Certificate::from_der(der).to_owned()).collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        } else {
            tls = tls.root_certs(ureq::tls::RootCerts::PlatformVerifier);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        Ok(Client { address: address.trim_end_matches('/').to_owned(), token, agent })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.address, path.trim_start_matches('/'))
    }

    /// Sends one request; a transport failure is an error, any HTTP status is an answer.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let url = self.url(path);
        let mut request = ureq::http::Request::builder().method(method).uri(&url).header("X-Vault-Request", "true");
        if let Some(token) = &self.token {
            request = request.header("X-Vault-Token", token);
        }
        let payload = body.map(Value::to_string).unwrap_or_default();
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        let request = request.body(payload).map_err(|e| format!("invalid request: {e}"))?;
        let mut response =
            self.agent.run(request).map_err(|e| format!("Error making API request.\n\nURL: {method} {url}\n{e}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body =
            serde_json::from_str(&text).unwrap_or(if text.is_empty() { Value::Null } else { Value::String(text) });
        Ok(Answer { status, body })
    }
}

/// Vault's error block for a failed request.
pub fn api_error(action: &str, method: &str, url: &str, answer: &Answer) -> String {
    let errors: Vec<String> = answer
        .body
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().map(|e| format!("* {}", e.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    format!(
        "{action}: Error making API request.\n\nURL: {method} {url}\nCode: {}. Errors:\n\n{}",
        answer.status,
        errors.join("\n")
    )
}
