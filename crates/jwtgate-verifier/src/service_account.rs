//! The Kubernetes auth method's decisions about a service-account token's claims (Vault's
//! vault-plugin-auth-kubernetes): issuer, `exp`/`nbf` with Kubernetes' 60 s leeway, audience,
//! the service account it names, the role's name and namespace bindings, and the match with
//! what TokenReview reports. Texts are Vault's.

use crate::claims::glob;
use crate::review::ReviewedUser;
use serde_json::{Map, Value};

/// Kubernetes' leeway on `exp` and `nbf`.
pub const LEEWAY: i64 = 60;
/// The issuer Vault checks when `disable_iss_validation=false` and no `issuer` is set.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// The service account a token names, from the bound (`kubernetes.io`) or the legacy claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub secret_name: String,
}

impl ServiceAccount {
    pub fn from_claims(claims: &Map<String, Value>) -> ServiceAccount {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let legacy = |name: &str| text(claims.get(&format!("kubernetes.io/serviceaccount/{name}")));
        match claims.get("kubernetes.io").filter(|v| v.is_object()) {
            Some(private) => ServiceAccount {
                namespace: text(private.get("namespace")),
                name: text(private.pointer("/serviceaccount/name")),
                uid: text(private.pointer("/serviceaccount/uid")),
                secret_name: text(private.pointer("/secret/name")),
            },
            None => ServiceAccount {
                namespace: legacy("namespace"),
                name: legacy("service-account.name"),
                uid: legacy("service-account.uid"),
                secret_name: legacy("secret.name"),
            },
        }
    }

    /// The reviewed user must be this service account (Vault's checks and texts).
    pub fn matches_review(&self, reviewed: &ReviewedUser) -> Result<(), String> {
        if self.name != reviewed.name {
            return Err("JWT names did not match".into());
        }
        if self.uid != reviewed.uid {
            return Err("JWT UIDs did not match".into());
        }
        if self.namespace != reviewed.namespace {
            return Err("JWT namepaces did not match".into());
        }
        Ok(())
    }
}

/// What a Kubernetes role and its mount's config require of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountPolicy {
    /// `Some(issuer)` when `disable_iss_validation=false` (empty: [`LEGACY_ISSUER`]).
    pub issuer: Option<String>,
    /// The role's `audience`; empty accepts any.
    pub audience: String,
    /// `bound_service_account_names` and `_namespaces`: globs, `*` for any.
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
}

/// The token's audiences (`aud` as a string or a list).
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

impl ServiceAccountPolicy {
    /// Checks the claims at `now` (Unix seconds); returns the service account they name.
    /// Every error is a refusal text (Vault answers 403 with it).
    pub fn check(&self, claims: &Map<String, Value>, now: i64) -> Result<ServiceAccount, String> {
        if let Some(issuer) = &self.issuer {
            let expected = if issuer.is_empty() { LEGACY_ISSUER } else { issuer };
            if claims.get("iss").and_then(Value::as_str) != Some(expected) {
                return Err("error validating token: invalid issuer (iss) claim".into());
            }
        }
        let time = |name: &str| claims.get(name).and_then(Value::as_i64);
        if time("exp").is_some_and(|exp| now > exp + LEEWAY) {
            return Err("error validating token: invalid expiration time (exp) claim: token is expired".into());
        }
        if time("nbf").is_some_and(|nbf| now < nbf - LEEWAY) {
            return Err("error validating token: invalid not before (nbf) claim: token not yet valid".into());
        }
        if !self.audience.is_empty() && !audiences(claims).contains(&self.audience) {
            return Err(
                "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"
                    .into(),
            );
        }
        let account = ServiceAccount::from_claims(claims);
        let bound = |patterns: &[String], value: &str| patterns.iter().any(|p| p == "*" || glob(p, value));
        if !bound(&self.names, &account.name) {
            return Err("service account name not authorized".into());
        }
        if !bound(&self.namespaces, &account.namespace) {
            return Err("namespace not authorized".into());
        }
        if account.uid.is_empty() {
            return Err("could not parse UID from claims".into());
        }
        Ok(account)
    }

    /// The audiences to ask TokenReview about: the role's, else the token's own.
    pub fn review_audiences(&self, claims: &Map<String, Value>) -> Vec<String> {
        if self.audience.is_empty() {
            audiences(claims)
        } else {
            vec![self.audience.clone()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://kubernetes.default.svc", "aud": ["vault"], "exp": NOW + 600, "nbf": NOW,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "u-1"}}
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base.as_object().unwrap().clone()
    }

    #[test]
    fn claim_checks() {
        let policy = ServiceAccountPolicy {
            issuer: None,
            audience: "vault".into(),
            names: vec!["app".into()],
            namespaces: vec!["def*".into()],
        };
        let strict = ServiceAccountPolicy { issuer: Some(String::new()), ..policy.clone() };
        let cases: Vec<(&str, &ServiceAccountPolicy, Value, Result<(), &str>)> = vec![
            ("valid", &policy, json!({}), Ok(())),
            ("exp within leeway", &policy, json!({"exp": NOW - 60}), Ok(())),
            ("exp past leeway", &policy, json!({"exp": NOW - 61}), Err("error validating token: invalid expiration time (exp) claim: token is expired")),
            ("nbf within leeway", &policy, json!({"nbf": NOW + 60}), Ok(())),
            ("nbf past leeway", &policy, json!({"nbf": NOW + 61}), Err("error validating token: invalid not before (nbf) claim: token not yet valid")),
            ("aud as a string", &policy, json!({"aud": "vault"}), Ok(())),
            ("wrong aud", &policy, json!({"aud": ["other"]}), Err("error validating token: invalid audience (aud) claim: audience claim does not match any expected audience")),
            ("legacy issuer required", &strict, json!({}), Err("error validating token: invalid issuer (iss) claim")),
            ("legacy issuer given", &strict, json!({"iss": LEGACY_ISSUER}), Ok(())),
            ("name", &policy, json!({"kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "x", "uid": "u"}}}), Err("service account name not authorized")),
            ("namespace", &policy, json!({"kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "app", "uid": "u"}}}), Err("namespace not authorized")),
            ("no uid", &policy, json!({"kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app"}}}), Err("could not parse UID from claims")),
        ];
        for (name, policy, extra, expected) in cases {
            let got = policy.check(&claims(extra), NOW).map(drop);
            assert_eq!(got, expected.map_err(str::to_owned), "{name}");
        }
    }

    #[test]
    fn legacy_claims_and_review_match() {
        let legacy = json!({
            "kubernetes.io/serviceaccount/namespace": "ns", "kubernetes.io/serviceaccount/service-account.name": "sa",
            "kubernetes.io/serviceaccount/service-account.uid": "u-2", "kubernetes.io/serviceaccount/secret.name": "sa-token"
        });
        let account = ServiceAccount::from_claims(legacy.as_object().unwrap());
        assert_eq!(
            account,
            ServiceAccount {
                namespace: "ns".into(),
                name: "sa".into(),
                uid: "u-2".into(),
                secret_name: "sa-token".into()
            }
        );
        let reviewed = |namespace: &str, name: &str, uid: &str| ReviewedUser {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
        };
        assert_eq!(account.matches_review(&reviewed("ns", "sa", "u-2")), Ok(()));
        assert_eq!(account.matches_review(&reviewed("ns", "other", "u-2")), Err("JWT names did not match".into()));
        assert_eq!(account.matches_review(&reviewed("ns", "sa", "u-3")), Err("JWT UIDs did not match".into()));
        assert_eq!(account.matches_review(&reviewed("x", "sa", "u-2")), Err("JWT namepaces did not match".into()));
    }
}
