//! Fetching remote documents (discovery, JWKS). The verifier only sees the [`Fetch`] trait, so
//! tests substitute an in-process server and the server binary decides timeouts.

use crate::error::FetchError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A boxed future, so that `Fetch` can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One GET of a remote document.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// An `https://` URL.
    pub url: &'a str,
    /// PEM CA bundle that replaces the system roots for this URL (Vault's `*_ca_pem`).
    pub ca_pem: Option<&'a str>,
}

/// Fetches a document's body. Implementations must enforce a size cap and a total timeout.
pub trait Fetch: Send + Sync + std::fmt::Debug {
    fn get<'a>(&'a self, request: FetchRequest<'a>) -> BoxFuture<'a, Result<Vec<u8>, FetchError>>;
}

/// HTTPS fetcher over openssl (through ureq's native-tls backend).
#[derive(Debug, Clone)]
pub struct HttpsFetcher {
    /// Total time for connect, TLS, request and body (default 10 s).
    pub timeout: Duration,
    /// Largest body accepted (default 1 MiB).
    pub max_body: usize,
    agents: AgentCache,
}

impl HttpsFetcher {
    pub fn new(timeout: Duration, max_body: usize) -> HttpsFetcher {
        HttpsFetcher { timeout, max_body, agents: AgentCache::default() }
    }
}

impl Default for HttpsFetcher {
    fn default() -> Self {
        HttpsFetcher::new(Duration::from_secs(10), 1024 * 1024)
    }
}

/// HTTPS agents kept per CA bundle (`None`: the system roots). Building one loads the trust
/// store (tens of milliseconds of CPU), and a kept one also keeps its connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentCache(Arc<Mutex<Vec<TrustedAgent>>>);

/// An agent and the CA bundle it trusts.
type TrustedAgent = (Option<String>, ureq::Agent);

/// Distinct CA bundles kept; more than this many alternating rebuild agents.
const MAX_AGENTS: usize = 16;

impl AgentCache {
    pub(crate) fn get(&self, ca_pem: Option<&str>, timeout: Duration) -> Result<ureq::Agent, FetchError> {
        let mut agents = self.0.lock().map_err(|_| FetchError::Transport("agent cache poisoned".into()))?;
        if let Some((_, agent)) = agents.iter().find(|(ca, _)| ca.as_deref() == ca_pem) {
            return Ok(agent.clone());
        }
        let agent = https_agent(ca_pem, timeout)?;
        if agents.len() >= MAX_AGENTS {
            agents.remove(0);
        }
        agents.push((ca_pem.map(str::to_owned), agent.clone()));
        Ok(agent)
    }
}

impl HttpsFetcher {
    fn get_blocking(&self, url: &str, ca_pem: Option<&str>) -> Result<Vec<u8>, FetchError> {
        if !url.starts_with("https://") {
            return Err(FetchError::NotHttps(url.to_owned()));
        }
        let mut response = self
            .agents
            .get(ca_pem, self.timeout)?
            .get(url)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let limit = self.max_body;
        let body = response.body_mut().with_config().limit(limit as u64 + 1).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge { limit },
            other => FetchError::Transport(other.to_string()),
        })?;
        if body.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        if status != 200 {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(FetchError::Status { status, body: snippet });
        }
        Ok(body)
    }
}

impl Fetch for HttpsFetcher {
    fn get<'a>(&'a self, request: FetchRequest<'a>) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
        let this = self.clone();
        let url = request.url.to_owned();
        let ca_pem = request.ca_pem.map(str::to_owned);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.get_blocking(&url, ca_pem.as_deref()))
                .await
                .map_err(|e| FetchError::Transport(e.to_string()))?
        })
    }
}

/// An HTTPS-only client over openssl trusting `ca_pem` (else the system roots), with a total
/// timeout. Redirects are not followed: an issuer or apiserver that moves is a configuration
/// change. Building one loads the trust store: go through [`AgentCache`].
fn https_agent(ca_pem: Option<&str>, timeout: Duration) -> Result<ureq::Agent, FetchError> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let roots = match ca_pem {
        None => RootCerts::PlatformVerifier,
        Some(pem) => {
            let certs = parse_ca_bundle(pem)?;
            RootCerts::new_with_certs(
                &certs.iter().map(|der| Certificate::from_der(der).to_owned()).collect::<Vec<_>>(),
            )
        }
    };
    let tls = TlsConfig::builder().provider(TlsProvider::NativeTls).root_certs(roots).build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .https_only(true)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A kept agent serves concurrent logins: keep a connection for each of them.
        .max_idle_connections(MAX_IDLE_CONNECTIONS)
        .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
        .build()
        .into())
}

/// Idle connections an agent keeps (ureq's default of 3 per host made concurrent TokenReviews
/// open new TLS connections).
const MAX_IDLE_CONNECTIONS: usize = 64;

/// Parses a PEM CA bundle into DER certificates; an empty or unparsable bundle is an error.
pub fn parse_ca_bundle(pem: &str) -> Result<Vec<Vec<u8>>, FetchError> {
    let certs = openssl::x509::X509::stack_from_pem(pem.as_bytes()).map_err(|_| FetchError::CaPem)?;
    if certs.is_empty() {
        return Err(FetchError::CaPem);
    }
    certs.iter().map(|cert| cert.to_der().map_err(|_| FetchError::CaPem)).collect()
}
