//! A Kubernetes API-server stand-in for tests: the service-account issuer's discovery and
//! JWKS, TokenRequest (JSON and kubectl's protobuf), TokenReview with Kubernetes' checks,
//! service accounts, pods and secrets, key rotation, and a kubeconfig real `kubectl` uses.
//! Behaviour follows `shared/spec/kubernetes-tokens.md`; deliberate simplifications are
//! listed in `docs/kube-sim.md`.

mod cluster;
mod keys;
mod proto;
mod server;
mod time;
mod tls;

pub use cluster::{uuid, ApiError, Cluster, ClusterSpec, Reviewed, Target, User};
pub use keys::{kid, Jwk, KeyType, SigningKey, VerificationKey};
pub use server::{Sim, SimConfig};
pub use time::rfc3339;
pub use tls::ClusterCa;
