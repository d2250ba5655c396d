//! The JWT auth method (Vault's vault-plugin-auth-jwt, JWT login only; vault-jwt-auth.md §3.3):
//! keys from PEM, JWKS or discovery; roles that bind audiences, subject and claims.

pub mod config;
pub mod role;

use super::{AuthMethod, Runtime, Services};
use crate::error::Error;
use crate::request::Body;
use crate::token::issue::Login;
use crate::token::params::TokenParams;
use config::JwtConfig;
use jwtgate_verifier::{ClaimPolicy, Fetch, Validator};
use role::JwtRole;
use serde_json::{Map, Value};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

pub struct Jwt;

impl AuthMethod for Jwt {
    type Config = JwtConfig;
    type Role = JwtRole;
    type Prepared = ClaimPolicy;
    const CONFIG_FIELDS: &'static [&'static str] = &config::FIELDS;
    const ROLE_FIELDS: &'static [&'static str] = &role::FIELDS;
    const LOGIN_FIELDS: &'static [&'static str] = &["role", "jwt", "distributed_claim_access_token"];
    const CHECKS_REMOTE: bool = true;

    fn write_config(body: &Body, existing: Option<&JwtConfig>) -> Result<JwtConfig, Error> {
        JwtConfig::write(body, existing)
    }

    fn read_config(config: &JwtConfig) -> Map<String, Value> {
        config.read()
    }

    fn validator(config: &JwtConfig, fetcher: &Arc<dyn Fetch>) -> Result<Option<Validator>, String> {
        if config.is_oidc_flow() {
            return Ok(None);
        }
        Validator::new(&config.key_config(), fetcher.clone()).map(Some).map_err(|e| e.to_string())
    }

    fn write_role(existing: Option<JwtRole>, body: &Body, mount_max_ttl: i64) -> Result<(JwtRole, Vec<String>), Error> {
        JwtRole::write(existing, body, mount_max_ttl)
    }

    fn read_role(role: &JwtRole) -> Map<String, Value> {
        role.read()
    }

    fn prepare(role: &JwtRole) -> ClaimPolicy {
        role.claim_policy()
    }

    fn token_params(role: &JwtRole) -> &TokenParams {
        &role.token
    }

    fn login<'a>(
        runtime: &'a Runtime<Self>,
        services: &'a Services,
        body: &'a Body,
        peer: Option<IpAddr>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Login, Error>> + Send + 'a {
        login(runtime, services, body, peer, now)
    }
}

async fn login(
    runtime: &Runtime<Jwt>,
    services: &Services,
    body: &Body,
    peer: Option<IpAddr>,
    now: SystemTime,
) -> Result<Login, Error> {
    let bad = |text: String| Error::BadRequest(text);
    let mount = &runtime.mount;
    let config = runtime.config.as_ref().ok_or_else(|| bad("could not load configuration".into()))?;
    let role_name = match body.get("role") {
        Some(Value::String(name)) if !name.is_empty() => name.to_lowercase(),
        Some(Value::String(_)) | None | Some(Value::Null) => config.default_role.clone(),
        Some(_) => return Err(bad("error parsing JSON".into())),
    };
    if role_name.is_empty() {
        return Err(bad("missing role".into()));
    }
    let shown: String = role_name.chars().take(128).collect();
    let loaded = runtime.role(&role_name)?.ok_or_else(|| bad(format!("role {shown:?} could not be found")))?;
    let role = &loaded.role;
    if role.role_type == "oidc" {
        return Err(bad("role with oidc role_type is not allowed".into()));
    }
    let jwt = match body.get("jwt") {
        Some(Value::String(jwt)) if !jwt.trim().is_empty() => jwt,
        Some(Value::String(_)) | None | Some(Value::Null) => return Err(bad("missing token".into())),
        Some(_) => return Err(bad("error parsing JSON".into())),
    };
    if !crate::token::peer_allowed(&role.token.token_bound_cidrs, peer) {
        return Err(Error::PermissionDenied);
    }
    if config.is_oidc_flow() {
        return Err(bad("error configuring token validator: unsupported config type".into()));
    }
    let validator = match &runtime.validator {
        Ok(Some(validator)) => validator,
        Ok(None) => return Err(Error::internal("log in", "a JWT mount without a validator")),
        Err(e) => return Err(bad(format!("error configuring token validator: {e}"))),
    };
    let identity = validator.validate(jwt, &loaded.prepared, now).await.map_err(|e| {
        tracing::info!(mount = %mount.path, role = %shown, reason = %e, "login refused");
        bad(e.to_string())
    })?;
    if role.token_review == Some(true) {
        super::review::confirm_with_cluster(
            services,
            &config.reviewer(),
            jwt,
            &identity.claims(),
            &loaded.prepared.bound_audiences,
            now,
        )
        .await
        .inspect_err(
            |e| tracing::info!(mount = %mount.path, role = %shown, reason = %e, "login refused by TokenReview"),
        )?;
    }
    Ok(Login {
        display_name: format!("{}-{}", mount.path.replace('/', "-"), identity.alias_name),
        alias_name: identity.alias_name,
        metadata: identity.metadata,
        role_name,
        params: role.token.clone(),
    })
}
