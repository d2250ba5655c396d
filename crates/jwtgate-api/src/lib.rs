//! jwtgate's Vault-compatible HTTP API on actix-web: routes, handlers, the response envelope
//! and error shapes. Handlers decode, make one call into the store or verifier, and encode.

mod acl;
mod batch;
mod cidr;
mod config;
mod error;
mod fields;
mod handlers;
mod ids;
mod kubernetes;
mod login;
mod metrics;
mod role;
mod routes;
mod state;
mod time;
mod tokens;
mod wire;

pub use error::ApiError;
pub use fields::parse_duration;
pub use handlers::initialize;
pub use kubernetes::LocalServiceAccount;
pub use routes::{resolve, Access, Endpoint, Operation, TokenAction, KINDS};
pub use state::{AppState, Clock, SYSTEM_TTL};

use actix_web::web;

/// Mounts every Vault path under `/v1/`.
pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/v1/{path:.*}", web::route().to(handlers::dispatch));
}
