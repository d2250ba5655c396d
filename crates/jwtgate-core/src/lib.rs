//! jwtgate's Vault core, shaped like Vault's own: a router, the token store, ACL policies,
//! system paths and the auth methods, driven by one request pipeline
//! ([`Core::handle`]). No HTTP: a transport (the actix adapter in `jwtgate-api`) turns its
//! requests into [`Request`]s and answers [`Response`]s.

pub mod acl;
pub mod audit;
pub mod auth;
mod cidr;
pub mod error;
mod fields;
mod ids;
mod metrics;
pub mod pipeline;
pub mod request;
pub mod router;
pub mod sys;
mod time;
pub mod token;

pub use auth::review::LocalServiceAccount;
pub use error::Error;
pub use fields::parse_duration;
pub use pipeline::{Clock, Core, Options};
pub use request::{Auth, Logical, Operation, Request, Response};
pub use router::{resolve, Access, Endpoint, KINDS};
pub use sys::initialize;
pub use token::ttl::{SystemTtl, SYSTEM_TTL};
pub use token::TokenAction;
