//! `auth/token/create`, `create-orphan` and `create/<role>`, in the order Vault's
//! `handleCreateCommon` checks things: every refusal comes before anything is stored.

use super::roles::{any_glob, sanitise, TokenRole};
use super::ttl::TtlLimits;
use super::{auth_block, blocking, sanitise_display_name, Caller, Tokens};
use crate::error::Error;
use crate::fields;
use crate::ids;
use crate::request::{unknown_fields_warning, Body, Response};
use jwtgate_store::TokenRecord;
use std::collections::BTreeMap;

/// Which endpoint creates the token.
pub enum Creation<'a> {
    Create,
    Orphan,
    Role(&'a str),
}

fn bad(text: impl Into<String>) -> Error {
    Error::BadRequest(text.into())
}

/// Policies Vault keeps for itself: no token may be created with them.
const RESERVED_POLICIES: [&str; 2] = ["response-wrapping", "control-group"];

impl Tokens {
    pub async fn create(
        &self,
        caller: Caller,
        body: &Body,
        creation: Creation<'_>,
        path: &str,
        now: i64,
    ) -> Result<Response, Error> {
        let role = match creation {
            Creation::Role(name) => {
                Some(self.token_role(name).await?.ok_or_else(|| bad(format!("unknown role {name}")))?)
            }
            _ => None,
        };
        // A batch token has no record to hang children on, and Vault lets it make no orphans either.
        if caller.batch {
            return Err(bad("batch tokens cannot create more tokens"));
        }
        let no_parent = fields::boolean(body, "no_parent")? == Some(true);
        let batch = self.token_type(body, role.as_ref())?;
        let mut num_uses = fields::integer(body, "num_uses")?.unwrap_or(0);
        if num_uses < 0 {
            return Err(bad("number of uses cannot be negative"));
        }
        let entity_id = match fields::string(body, "entity_alias")?.filter(|alias| !alias.is_empty()) {
            None => String::new(),
            Some(alias) => {
                let Some(role) = &role else {
                    return Err(bad("'entity_alias' is only allowed in combination with token role"));
                };
                if !any_glob(role.allowed_entity_aliases.as_deref().unwrap_or_default(), &alias.to_lowercase()) {
                    return Err(bad("invalid 'entity_alias' value"));
                }
                super::issue::entity_id(TOKEN_MOUNT_ACCESSOR, &alias)
            }
        };
        let mut renewable = fields::boolean(body, "renewable")?.unwrap_or(true);
        let mut path = path.to_owned();
        if let Some(role) = &role {
            renewable &= role.renewable;
            if role.token_num_uses != 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
                num_uses = role.token_num_uses;
            }
            if !role.path_suffix.is_empty() {
                path = format!("{path}/{}", role.path_suffix);
            }
        }
        let display_name = fields::string(body, "display_name")?
            .filter(|n| !n.is_empty())
            .map_or_else(|| "token".into(), |n| format!("token-{}", sanitise_display_name(&n)));
        if !caller.sudo && fields::string(body, "id")?.is_some_and(|id| !id.is_empty()) {
            return Err(bad("root or sudo privileges required to specify token id"));
        }
        let policies = self.child_policies(&caller, body, role.as_ref())?;
        if let Some(reserved) = policies.iter().find(|p| RESERVED_POLICIES.contains(&p.as_str())) {
            return Err(bad(format!("cannot assign policy {reserved:?}")));
        }
        let is_root_token = policies.iter().any(|p| p == "root");
        if is_root_token && !caller.is_root() {
            return Err(bad("root tokens may not be created without parent token being root"));
        }
        if is_root_token && batch {
            return Err(bad("batch tokens cannot be root tokens"));
        }
        let orphan = match &role {
            Some(role) => role.orphan,
            None if no_parent => {
                if !caller.sudo {
                    return Err(bad("root or sudo privileges required to create orphan token"));
                }
                true
            }
            None => matches!(creation, Creation::Orphan),
        };
        let mut warnings = Vec::new();
        let explicit_max_ttl = fields::duration(body, "explicit_max_ttl")?.unwrap_or(0);
        if explicit_max_ttl < 0 {
            return Err(bad("explicit_max_ttl must be positive"));
        }
        let period = fields::duration(body, "period")?.unwrap_or(0);
        if period < 0 {
            return Err(bad("period must be positive"));
        }
        if period != 0 && !caller.sudo {
            return Err(bad("root or sudo privileges required to create periodic token"));
        }
        let ttl = fields::duration(body, "ttl")?.unwrap_or(0);
        if ttl < 0 {
            return Err(bad("ttl must be positive"));
        }
        // The record keeps what was asked (Vault's lookup shows that); the role's limits apply
        // on top, now and at every renewal.
        let (mut effective_max, mut effective_period) = (explicit_max_ttl, period);
        if let Some(role) = role.as_ref().filter(|_| !batch) {
            for (name, asked, from_role) in [
                ("Explicit max TTL", &mut effective_max, role.token_explicit_max_ttl),
                ("Period", &mut effective_period, role.token_period),
            ] {
                if from_role != 0 && *asked != 0 {
                    warnings.push(format!(
                        "{name} specified both during creation call and in role; using the lesser value of {} seconds",
                        (*asked).min(from_role)
                    ));
                }
                *asked = lesser_limit(*asked, from_role);
            }
        }
        let meta: BTreeMap<String, String> = fields::object(body, "meta")?
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        let (granted, ttl_warnings) = TtlLimits::own(&self.system, ttl, effective_max, effective_period).initial_ttl();
        // A root token without a TTL or period gets no default to cap: it lives until its
        // explicit max TTL, if any, without a warning.
        if !(is_root_token && ttl == 0 && effective_period == 0) {
            warnings.extend(ttl_warnings);
        }
        // Only a root token created without any TTL never expires (Vault's rule); it is neither
        // renewable nor bound to networks.
        let never_expires = is_root_token && ttl == 0 && effective_max == 0 && effective_period == 0;
        let token = fields::string(body, "id")?.filter(|id| !id.is_empty());
        let record = TokenRecord {
            accessor: if batch { String::new() } else { ids::accessor() },
            policies,
            meta,
            display_name,
            path,
            role: role.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            entity_id,
            creation_time: now,
            creation_ttl: if never_expires { 0 } else { granted },
            expire_time: (!never_expires).then_some(now + granted),
            explicit_max_ttl,
            period,
            num_uses,
            renewable: !never_expires && !batch && renewable,
            orphan,
            bound_cidrs: match &role {
                Some(role) if !never_expires => role.token_bound_cidrs.clone(),
                _ => Vec::new(),
            },
            ..TokenRecord::default()
        };
        let (token, missing_policies) = if batch {
            if token.is_some() {
                return Err(bad("batch tokens cannot have a custom ID"));
            }
            self.store_batch(&caller, record.clone()).await?
        } else {
            self.store_service(&caller, token.unwrap_or_else(ids::service_token), record.clone(), now).await?
        };
        warnings.extend(missing_policies.iter().map(|name| format!("Policy {name:?} does not exist")));
        warnings.extend(unknown_fields_warning(body, &CREATE_FIELDS));
        let ttl = record.expire_time.map_or(0, |at| at - now);
        Ok(Response::auth(auth_block(token, &record, ttl), "token", warnings))
    }

    /// `service` or `batch` from the request and the role; batch tokens refuse what they cannot
    /// carry.
    fn token_type(&self, body: &Body, role: Option<&TokenRole>) -> Result<bool, Error> {
        let mut kind = fields::string(body, "type")?.unwrap_or_default();
        match role.map(|r| r.token_type.as_str()) {
            Some("default-batch") if kind.is_empty() => kind = "batch".into(),
            Some(fixed @ ("service" | "batch")) => kind = fixed.into(),
            _ => {}
        }
        match kind.as_str() {
            "" | "service" => Ok(false),
            "batch" => {
                let nonzero = |field| Ok::<_, Error>(fields::duration(body, field)?.unwrap_or(0) != 0);
                let reason = if nonzero("explicit_max_ttl")? {
                    Some("explicit_max_ttl")
                } else if fields::integer(body, "num_uses")?.unwrap_or(0) != 0 {
                    Some("num_uses")
                } else if nonzero("period")? {
                    Some("period")
                } else {
                    None
                };
                match reason {
                    Some(field) => Err(bad(format!("batch tokens cannot have {field:?} set"))),
                    None => Ok(true),
                }
            }
            _ => Err(bad("invalid 'token_type' value")),
        }
    }

    /// The new token's policies. A role with allowed or disallowed policies decides alone;
    /// otherwise a child gets a subset of its parent's unless the caller has root or sudo.
    fn child_policies(&self, caller: &Caller, body: &Body, role: Option<&TokenRole>) -> Result<Vec<String>, Error> {
        let parent = &caller.record.policies;
        let requested = fields::string_slice(body, "policies")?.filter(|list| !list.is_empty());
        let no_default = fields::boolean(body, "no_default_policy")? == Some(true);
        let with_default = |mut list: Vec<String>, add: bool| {
            if add {
                list.push("default".into());
            }
            sanitise(&list)
        };
        let mut policies = match role {
            Some(role)
                if !(role.allowed_policies.is_empty()
                    && role.disallowed_policies.is_empty()
                    && role.allowed_policies_glob.is_empty()
                    && role.disallowed_policies_glob.is_empty()) =>
            {
                let add_default = !no_default
                    && !role.token_no_default_policy
                    && !role.disallowed_policies.iter().any(|p| p == "default")
                    && !any_glob(&role.disallowed_policies_glob, "default");
                let mut chosen = requested.map(|list| with_default(list, add_default)).unwrap_or_default();
                if !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty() {
                    let allowed = with_default(role.allowed_policies.clone(), add_default);
                    if chosen.is_empty() {
                        chosen = allowed;
                    } else if let Some(_outside) =
                        chosen.iter().find(|p| !allowed.contains(p) && !any_glob(&role.allowed_policies_glob, p))
                    {
                        return Err(bad(format!(
                            "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                            go_quoted(&chosen),
                            go_quoted(&allowed),
                            go_quoted(&role.allowed_policies_glob)
                        )));
                    }
                } else if chosen.is_empty() {
                    chosen = with_default(parent.clone(), add_default);
                }
                if let Some(refused) = chosen
                    .iter()
                    .find(|p| role.disallowed_policies.contains(p) || any_glob(&role.disallowed_policies_glob, p))
                {
                    return Err(bad(format!("token policy {refused:?} is disallowed by this role")));
                }
                chosen
            }
            _ => match requested {
                None => sanitise(parent),
                Some(list) if !caller.sudo => {
                    // Compared as sent, before case folding, as Vault does.
                    let outside =
                        list.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).any(|p| !parent.iter().any(|q| q == p));
                    if outside {
                        return Err(bad("child policies must be subset of parent"));
                    }
                    with_default(list, !no_default && parent.iter().any(|p| p == "default"))
                }
                Some(list) => with_default(list, !no_default),
            },
        };
        if no_default {
            policies.retain(|p| p != "default");
        }
        // `root` stands alone (Vault's `SanitizePolicies`).
        if policies.iter().any(|p| p == "root") {
            policies = vec!["root".into()];
        }
        Ok(policies)
    }

    /// A service token, stored (as a child of the caller unless an orphan) before it is
    /// returned; with the names of its policies that do not exist.
    async fn store_service(
        &self,
        caller: &Caller,
        token: String,
        record: TokenRecord,
        now: i64,
    ) -> Result<(String, Vec<String>), Error> {
        let (store, issued, parent) = (self.store.clone(), token.clone(), caller.token.clone());
        let (created, missing) = blocking(move || {
            if store.lookup_token(&issued, now)?.is_some() {
                return Err(bad("cannot create a token with a duplicate ID"));
            }
            let created = if record.orphan {
                store.create_token(&issued, &record)?;
                true
            } else {
                store.create_child_token(&issued, &record, &parent, now)?
            };
            Ok((created, missing_policies(&store, &record.policies)?))
        })
        .await?;
        if !created {
            return Err(Error::Forbidden("permission denied".into()));
        }
        Ok((token, missing))
    }

    /// A batch token: sealed, nothing stored; a child carries its parent's key, and is refused
    /// once that parent is no longer live.
    async fn store_batch(&self, caller: &Caller, record: TokenRecord) -> Result<(String, Vec<String>), Error> {
        let (store, parent) = (self.store.clone(), caller.token.clone());
        let (record, missing) = blocking(move || {
            let parent = if record.orphan { String::new() } else { store.token_key(&parent) };
            let missing = missing_policies(&store, &record.policies)?;
            Ok((TokenRecord { parent, ..record }, missing))
        })
        .await?;
        let token =
            self.sealer.seal(&record).ok_or_else(|| Error::internal("seal a batch token", "the key ring is empty"))?;
        Ok((token, missing))
    }
}

/// The tighter of two limits where 0 means none.
pub fn lesser_limit(a: i64, b: i64) -> i64 {
    match (a, b) {
        (0, other) | (other, 0) => other,
        (a, b) => a.min(b),
    }
}

fn missing_policies(store: &jwtgate_store::Store, policies: &[String]) -> Result<Vec<String>, Error> {
    let mut missing = Vec::new();
    for name in policies.iter().filter(|p| *p != "default" && *p != "root") {
        if store.get_policy(name)?.is_none() {
            missing.push(name.clone());
        }
    }
    Ok(missing)
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    format!("[{}]", list.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(" "))
}

/// The token store's mount accessor, as `sys/auth` lists it.
pub const TOKEN_MOUNT_ACCESSOR: &str = "auth_token_00000000";

/// What `auth/token/create*` takes.
const CREATE_FIELDS: [&str; 13] = [
    "id",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "renewable",
    "ttl",
    "explicit_max_ttl",
    "display_name",
    "num_uses",
    "period",
    "type",
    "entity_alias",
];
