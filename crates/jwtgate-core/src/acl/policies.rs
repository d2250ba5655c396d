//! The policy store (`sys/policies/acl/*`): policies as written, parsed once and cached.

use super::{parse, Acl, Policy, DEFAULT_POLICY};
use crate::error::Error;
use crate::fields;
use crate::request::{Body, Operation, Response};
use crate::token::{blocking, wrapping};
use jwtgate_store::Store;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Policies {
    store: Arc<Store>,
    /// Parsed policies by name, and a generation that every change bumps: a load that began
    /// before a change is not cached, so a stale policy is never installed.
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    generation: u64,
    policies: HashMap<String, Arc<Policy>>,
}

impl Policies {
    pub fn new(store: Arc<Store>) -> Policies {
        Policies { store, cache: RwLock::new(Cache::default()) }
    }

    /// Forgets a cached policy, or all of them (a change written by this or another process).
    pub fn invalidate(&self, name: Option<&str>) {
        self.changed(name, None);
    }

    /// After a policy changed in the store: bump the generation, then cache the new version.
    fn changed(&self, name: Option<&str>, policy: Option<Arc<Policy>>) {
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.generation += 1;
        match (name, policy) {
            (Some(name), Some(policy)) => cache.policies.insert(name.to_owned(), policy),
            (Some(name), None) => cache.policies.remove(name),
            (None, _) => {
                cache.policies.clear();
                None
            }
        };
    }

    /// The merged ACL of a token's policies; unknown policy names grant nothing.
    pub async fn acl(&self, names: &[String]) -> Result<Acl, Error> {
        let mut policies = Vec::new();
        for name in names {
            let generation = {
                let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(policy) = cache.policies.get(name) {
                    policies.push(policy.clone());
                    continue;
                }
                cache.generation
            };
            let (store, key) = (self.store.clone(), name.clone());
            let stored = blocking(move || Ok(store.get_policy(&key)?)).await?;
            let text = match stored {
                Some(stored) => stored.policy,
                None if name == "default" => DEFAULT_POLICY.to_owned(),
                None if name == wrapping::POLICY => wrapping::POLICY_TEXT.to_owned(),
                None => continue,
            };
            // Stored policies were parsed when written; a failure here is a corrupt record.
            let policy = Arc::new(parse(&text).map_err(|e| Error::internal("parse a stored policy", e))?);
            let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.generation == generation {
                cache.policies.insert(name.clone(), policy.clone());
            }
            drop(cache);
            policies.push(policy);
        }
        Ok(Acl::new(policies.iter().map(|p| p.as_ref())))
    }

    /// `sys/policies/acl` (LIST), or the legacy `sys/policy` (GET).
    pub async fn list(&self, legacy: bool) -> Result<Response, Error> {
        let store = self.store.clone();
        let mut names = blocking(move || Ok(store.list_policies()?)).await?;
        for builtin in ["default", "root"] {
            if !names.iter().any(|n| n == builtin) {
                names.push(builtin.to_owned());
            }
        }
        names.sort();
        if legacy {
            return Ok(Response::data_also_at_top(json!({ "keys": names, "policies": names }), "system"));
        }
        Ok(Response::data(json!({ "keys": names }), "system"))
    }

    /// `sys/policies/acl/<name>`, or the legacy `sys/policy/<name>` (the text is `rules`, and
    /// answers repeat `data` at the top level).
    pub async fn handle(&self, operation: Operation, name: &str, body: &Body, legacy: bool) -> Result<Response, Error> {
        let name = name.trim().to_lowercase();
        if name.is_empty() || name.contains('/') || name.len() > crate::auth::MAX_NAME_LEN {
            return Err(Error::BadRequest("invalid policy name".into()));
        }
        let (store, key) = (self.store.clone(), name.clone());
        match operation {
            Operation::Read => {
                let stored = blocking(move || Ok(store.get_policy(&key)?)).await?;
                let text = match stored {
                    Some(policy) => policy.policy,
                    None if name == "default" => DEFAULT_POLICY.to_owned(),
                    None if name == wrapping::POLICY => wrapping::POLICY_TEXT.to_owned(),
                    // Root grants everything and has no text.
                    None if name == "root" => String::new(),
                    None => return Err(Error::NotFound),
                };
                if legacy {
                    return Ok(Response::data_also_at_top(json!({"name": name, "rules": text}), "system"));
                }
                Ok(Response::data(json!({"name": name, "policy": text}), "system"))
            }
            Operation::Delete => {
                match name.as_str() {
                    "root" => return Err(Error::BadRequest("cannot delete \"root\" policy".into())),
                    "default" => return Err(Error::BadRequest("cannot delete default policy".into())),
                    wrapping::POLICY => {
                        return Err(Error::BadRequest(format!("cannot delete {:?} policy", wrapping::POLICY)))
                    }
                    _ => {}
                }
                blocking(move || Ok(store.delete_policy(&key)?)).await?;
                self.invalidate(Some(&name));
                Ok(Response::NoContent)
            }
            _ => {
                if name == "root" || name == wrapping::POLICY {
                    return Err(Error::BadRequest(format!("cannot update {name:?} policy")));
                }
                let field = if legacy && body.contains_key("rules") { "rules" } else { "policy" };
                let text = fields::string(body, field)?
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| Error::BadRequest("'policy' parameter not supplied or empty".into()))?;
                let parsed = parse(&text).map_err(|e| Error::BadRequest(format!("failed to parse policy: {e}")))?;
                let record = jwtgate_store::Policy { name: name.clone(), policy: text };
                blocking(move || Ok(store.put_policy(&record)?)).await?;
                self.changed(Some(&name), Some(Arc::new(parsed)));
                if field == "rules" {
                    return Ok(Response::written(
                        vec!["'rules' is deprecated, please use 'policy' instead".into()],
                        "system",
                    ));
                }
                Ok(Response::NoContent)
            }
        }
    }
}
