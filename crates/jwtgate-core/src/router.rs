//! Vault's path-based routing as one explicit table (system paths, the token store, then the
//! auth mounts): every request path resolves to an [`Endpoint`], and every endpoint names the
//! access it needs. Nothing is served without a resolution, so no route escapes the access check.

use crate::error::Error;
use crate::request::Operation;
use crate::token::wrapping::WrapAction;
use crate::token::TokenAction;

/// What a request may need from its client token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (login, health, init).
    Public,
    /// A token whose ACL policies grant the operation's capability on the request path.
    Policy,
    /// As `Policy`, and the `sudo` capability too (root-protected paths).
    Sudo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    Init,
    AuthList,
    AuthMount(String),
    TokenLookupSelf,
    TokenRenewSelf,
    TokenRevokeSelf,
    /// `lookup`, `lookup-accessor`, `renew`, `renew-accessor`, `revoke`, `revoke-accessor`,
    /// `create`, `create-orphan`: acting on other tokens.
    TokenAdmin(TokenAction),
    Login(String),
    Config(String),
    Roles(String),
    Role(String, String),
    Policies,
    Policy(String),
    Metrics,
    AuthTune(String),
    SealStatus,
    Leader,
    /// `sys/capabilities-self`, `sys/capabilities` (a token), `sys/capabilities-accessor`.
    Capabilities(CapabilitiesOf),
    /// `sys/internal/ui/mounts[/<path>]`.
    UiMounts(Option<String>),
    /// The legacy `sys/policy[/<name>]` that hvac still calls.
    LegacyPolicies,
    LegacyPolicy(String),
    TokenAccessors,
    TokenTidy,
    /// `sys/leases/revoke-prefix/<prefix>`.
    RevokePrefix(String),
    /// `LIST auth/token/roles`.
    TokenRoles,
    TokenRole(String),
    /// `auth/token/create/<role>`.
    TokenCreateRole(String),
    /// `sys/remount` (`vault auth move`).
    Remount,
    /// `sys/remount/status/<migration id>`.
    RemountStatus(String),
    /// `sys/wrapping/wrap|unwrap|lookup|rewrap`.
    Wrapping(WrapAction),
    /// `GET sys/audit`.
    AuditList,
    /// `sys/audit/<path>`: enable, disable.
    AuditDevice(String),
    /// `sys/audit-hash/<path>`.
    AuditHash(String),
}

/// Whose capabilities `sys/capabilities*` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilitiesOf {
    Caller,
    Token,
    Accessor,
}

/// Every endpoint kind. `Endpoint::kind` matches exhaustively, so a new endpoint cannot be
/// added without naming it here, and the access test requires a sample of each.
pub const KINDS: [&str; 34] = [
    "health",
    "init",
    "auth-list",
    "auth-mount",
    "token-lookup-self",
    "token-renew-self",
    "token-revoke-self",
    "token-admin",
    "login",
    "config",
    "roles",
    "role",
    "policies",
    "policy",
    "metrics",
    "auth-tune",
    "seal-status",
    "leader",
    "capabilities",
    "ui-mounts",
    "legacy-policies",
    "legacy-policy",
    "token-accessors",
    "token-tidy",
    "revoke-prefix",
    "token-roles",
    "token-role",
    "token-create-role",
    "remount",
    "remount-status",
    "wrapping",
    "audit-list",
    "audit-device",
    "audit-hash",
];

impl Endpoint {
    pub fn kind(&self) -> &'static str {
        match self {
            Endpoint::Health => "health",
            Endpoint::Init => "init",
            Endpoint::AuthList => "auth-list",
            Endpoint::AuthMount(_) => "auth-mount",
            Endpoint::TokenLookupSelf => "token-lookup-self",
            Endpoint::TokenRenewSelf => "token-renew-self",
            Endpoint::TokenRevokeSelf => "token-revoke-self",
            Endpoint::TokenAdmin(_) => "token-admin",
            Endpoint::Login(_) => "login",
            Endpoint::Config(_) => "config",
            Endpoint::Roles(_) => "roles",
            Endpoint::Role(..) => "role",
            Endpoint::Policies => "policies",
            Endpoint::Policy(_) => "policy",
            Endpoint::Metrics => "metrics",
            Endpoint::AuthTune(_) => "auth-tune",
            Endpoint::SealStatus => "seal-status",
            Endpoint::Leader => "leader",
            Endpoint::Capabilities(_) => "capabilities",
            Endpoint::UiMounts(_) => "ui-mounts",
            Endpoint::LegacyPolicies => "legacy-policies",
            Endpoint::LegacyPolicy(_) => "legacy-policy",
            Endpoint::TokenAccessors => "token-accessors",
            Endpoint::TokenTidy => "token-tidy",
            Endpoint::RevokePrefix(_) => "revoke-prefix",
            Endpoint::TokenRoles => "token-roles",
            Endpoint::TokenRole(_) => "token-role",
            Endpoint::TokenCreateRole(_) => "token-create-role",
            Endpoint::Remount => "remount",
            Endpoint::RemountStatus(_) => "remount-status",
            Endpoint::Wrapping(_) => "wrapping",
            Endpoint::AuditList => "audit-list",
            Endpoint::AuditDevice(_) => "audit-device",
            Endpoint::AuditHash(_) => "audit-hash",
        }
    }

    pub fn access(&self) -> Access {
        match self {
            // `sys/internal/ui/mounts` is unauthenticated in Vault; without a token it lists only
            // mounts tuned `listing_visibility=unauth`.
            Endpoint::Health
            | Endpoint::Init
            | Endpoint::Login(_)
            | Endpoint::SealStatus
            | Endpoint::Leader
            | Endpoint::UiMounts(_)
            | Endpoint::Wrapping(WrapAction::Lookup) => Access::Public,
            // `sys/auth/*` (enable, read, disable, tune) is root-protected in Vault. `create-orphan`
            // is not: its ACL decides (OpenBao 2.7.2 agrees).
            Endpoint::AuthMount(_)
            | Endpoint::AuthTune(_)
            | Endpoint::TokenAccessors
            | Endpoint::TokenTidy
            | Endpoint::RevokePrefix(_)
            | Endpoint::Remount
            | Endpoint::RemountStatus(_)
            | Endpoint::AuditList
            | Endpoint::AuditDevice(_)
            | Endpoint::AuditHash(_) => Access::Sudo,
            _ => Access::Policy,
        }
    }

    /// The short text `?help=1` answers (Vault's path help).
    pub fn help(&self) -> &'static str {
        match self {
            Endpoint::Health => "Checks the health of the server (GET, HEAD; standbyok, activecode, sealedcode, uninitcode).",
            Endpoint::Init => "Reads whether the server is initialised (GET), or initialises it and returns the root token (PUT).",
            Endpoint::AuthList => "Lists the enabled auth methods: path, type, accessor, description and tuning.",
            Endpoint::AuthMount(_) => "Enables (POST: type, description, config), reads (GET) or disables (DELETE) the auth method at this path; disabling revokes its tokens.",
            Endpoint::AuthTune(_) => "Reads or tunes an auth mount: default_lease_ttl, max_lease_ttl, description, token_type, listing_visibility.",
            Endpoint::TokenLookupSelf => "Looks up the calling token and its properties.",
            Endpoint::TokenRenewSelf => "Renews the calling token (increment: the requested TTL).",
            Endpoint::TokenRevokeSelf => "Revokes the calling token and its children.",
            Endpoint::TokenAdmin(action) => action.help(),
            Endpoint::Login(_) => "Logs in with a JWT: role, jwt. Returns a client token with the role's policies and TTL.",
            Endpoint::Config(_) => "Reads or writes the mount's configuration: how tokens are verified (discovery URL, JWKS, public keys) and bound.",
            Endpoint::Roles(_) => "Lists the mount's roles.",
            Endpoint::Role(..) => "Reads, writes or deletes a role: the bindings a login must meet and the token it gets.",
            Endpoint::Policies | Endpoint::LegacyPolicies => "Lists the ACL policies.",
            Endpoint::Policy(_) | Endpoint::LegacyPolicy(_) => "Reads, writes (policy: HCL or JSON) or deletes an ACL policy.",
            Endpoint::Metrics => "Serves the metrics in Prometheus text format (format=prometheus).",
            Endpoint::SealStatus => "Returns the seal status: jwtgate is never sealed once initialised.",
            Endpoint::Leader => "Returns the HA status: a single node that is always the active one.",
            Endpoint::Capabilities(_) => "Returns the capabilities of a token (the caller's, token, or accessor) on paths.",
            Endpoint::UiMounts(_) => "Lists the mounts visible to the caller, as the UI and CLI read them.",
            Endpoint::TokenAccessors => "Lists the accessors of every live token.",
            Endpoint::TokenTidy => "Removes index entries of expired and revoked tokens.",
            Endpoint::RevokePrefix(_) => "Revokes every token issued under a path prefix (a login path, or auth/token/create).",
            Endpoint::TokenRoles => "Lists the token roles.",
            Endpoint::TokenRole(_) => "Reads, writes or deletes a token role: allowed and disallowed policies, orphan, renewable, token_type, path_suffix, token_* fields.",
            Endpoint::TokenCreateRole(_) => "Creates a token against a token role.",
            Endpoint::Remount => "Moves an auth mount with its configuration and roles (from, to); its tokens are revoked.",
            Endpoint::RemountStatus(_) => "Reads the status of a mount move by its migration id.",
            Endpoint::Wrapping(WrapAction::Wrap) => "Wraps the body's key/value pairs in a response-wrapping token (needs X-Vault-Wrap-TTL).",
            Endpoint::Wrapping(WrapAction::Unwrap) => "Unwraps a response-wrapping token (token, or the one sent): its answer, once.",
            Endpoint::Wrapping(WrapAction::Lookup) => "Looks up a response-wrapping token's creation path, time and TTL without spending it.",
            Endpoint::Wrapping(WrapAction::Rewrap) => "Moves a wrapped answer to a new response-wrapping token with the same TTL.",
            Endpoint::AuditList => "Lists the enabled audit devices.",
            Endpoint::AuditDevice(_) => "Enables (type: file or socket, description, options) or disables the audit device at this path.",
            Endpoint::AuditHash(_) => "Hashes input with the audit device's key, to find a token's entries in its log.",
        }
    }

    /// The operations this endpoint serves.
    pub fn operations(&self) -> &'static [Operation] {
        use Operation::*;
        match self {
            Endpoint::Health => &[Read, Head],
            Endpoint::Init => &[Read, Write],
            Endpoint::AuthList => &[Read],
            Endpoint::AuthMount(_) => &[Read, Write, Delete],
            Endpoint::TokenLookupSelf => &[Read, Write],
            // `lookup` by GET (or without a token in the body) looks the caller up.
            Endpoint::TokenAdmin(TokenAction::Lookup) => &[Read, Write],
            Endpoint::TokenRenewSelf | Endpoint::TokenRevokeSelf | Endpoint::Login(_) | Endpoint::TokenAdmin(_) => {
                &[Write]
            }
            Endpoint::Config(_) => &[Read, Write],
            Endpoint::Roles(_) | Endpoint::TokenRoles => &[List],
            Endpoint::Role(..) | Endpoint::TokenRole(_) => &[Read, Write, Delete],
            Endpoint::Policies => &[List],
            Endpoint::Policy(_) | Endpoint::LegacyPolicy(_) => &[Read, Write, Delete],
            Endpoint::Metrics => &[Read],
            Endpoint::AuthTune(_) => &[Read, Write],
            Endpoint::SealStatus | Endpoint::Leader | Endpoint::UiMounts(_) | Endpoint::LegacyPolicies => &[Read],
            Endpoint::Capabilities(_)
            | Endpoint::TokenTidy
            | Endpoint::RevokePrefix(_)
            | Endpoint::TokenCreateRole(_)
            | Endpoint::Remount => &[Write],
            Endpoint::RemountStatus(_) => &[Read],
            Endpoint::TokenAccessors => &[List],
            Endpoint::Wrapping(WrapAction::Wrap) => &[Write],
            // Vault's HTTP layer answers these for GET and DELETE too.
            Endpoint::Wrapping(_) => &[Read, Write, Delete],
            Endpoint::AuditList => &[Read],
            Endpoint::AuditDevice(_) => &[Write, Delete],
            Endpoint::AuditHash(_) => &[Write],
        }
    }
}

/// Resolves `path` (after `/v1/`) given the enabled auth mounts (paths without slashes at the ends).
pub fn resolve(path: &str, mounts: &[String]) -> Result<Endpoint, Error> {
    let path = path.trim_end_matches('/');
    let no_handler = || Error::NoHandler(path.to_owned());
    match path {
        "sys/health" => return Ok(Endpoint::Health),
        "sys/init" => return Ok(Endpoint::Init),
        "sys/auth" => return Ok(Endpoint::AuthList),
        "sys/metrics" => return Ok(Endpoint::Metrics),
        "sys/seal-status" => return Ok(Endpoint::SealStatus),
        "sys/leader" => return Ok(Endpoint::Leader),
        "sys/capabilities-self" => return Ok(Endpoint::Capabilities(CapabilitiesOf::Caller)),
        "sys/capabilities" => return Ok(Endpoint::Capabilities(CapabilitiesOf::Token)),
        "sys/capabilities-accessor" => return Ok(Endpoint::Capabilities(CapabilitiesOf::Accessor)),
        "sys/internal/ui/mounts" => return Ok(Endpoint::UiMounts(None)),
        "sys/policy" => return Ok(Endpoint::LegacyPolicies),
        "auth/token/accessors" => return Ok(Endpoint::TokenAccessors),
        "auth/token/tidy" => return Ok(Endpoint::TokenTidy),
        "auth/token/lookup-self" => return Ok(Endpoint::TokenLookupSelf),
        "auth/token/renew-self" => return Ok(Endpoint::TokenRenewSelf),
        "auth/token/revoke-self" => return Ok(Endpoint::TokenRevokeSelf),
        "auth/token/lookup" => return Ok(Endpoint::TokenAdmin(TokenAction::Lookup)),
        "auth/token/lookup-accessor" => return Ok(Endpoint::TokenAdmin(TokenAction::LookupAccessor)),
        "auth/token/renew" => return Ok(Endpoint::TokenAdmin(TokenAction::Renew)),
        "auth/token/renew-accessor" => return Ok(Endpoint::TokenAdmin(TokenAction::RenewAccessor)),
        "auth/token/revoke" => return Ok(Endpoint::TokenAdmin(TokenAction::Revoke)),
        "auth/token/revoke-accessor" => return Ok(Endpoint::TokenAdmin(TokenAction::RevokeAccessor)),
        "auth/token/create" => return Ok(Endpoint::TokenAdmin(TokenAction::Create)),
        "auth/token/create-orphan" => return Ok(Endpoint::TokenAdmin(TokenAction::CreateOrphan)),
        "auth/token/revoke-orphan" => return Ok(Endpoint::TokenAdmin(TokenAction::RevokeOrphan)),
        "auth/token/roles" => return Ok(Endpoint::TokenRoles),
        "sys/remount" => return Ok(Endpoint::Remount),
        "sys/wrapping/wrap" => return Ok(Endpoint::Wrapping(WrapAction::Wrap)),
        "sys/wrapping/unwrap" => return Ok(Endpoint::Wrapping(WrapAction::Unwrap)),
        "sys/wrapping/lookup" => return Ok(Endpoint::Wrapping(WrapAction::Lookup)),
        "sys/wrapping/rewrap" => return Ok(Endpoint::Wrapping(WrapAction::Rewrap)),
        "sys/audit" => return Ok(Endpoint::AuditList),
        _ => {}
    }
    if let Some(name) = path.strip_prefix("auth/token/roles/") {
        return Ok(Endpoint::TokenRole(name.to_owned()));
    }
    if let Some(role) = path.strip_prefix("auth/token/create/") {
        return Ok(Endpoint::TokenCreateRole(role.to_owned()));
    }
    if path == "sys/policies/acl" {
        return Ok(Endpoint::Policies);
    }
    if let Some(name) = path.strip_prefix("sys/policies/acl/") {
        return Ok(Endpoint::Policy(name.to_owned()));
    }
    if let Some(name) = path.strip_prefix("sys/policy/") {
        return Ok(Endpoint::LegacyPolicy(name.to_owned()));
    }
    if let Some(mount) = path.strip_prefix("sys/internal/ui/mounts/") {
        return Ok(Endpoint::UiMounts(Some(mount.to_owned())));
    }
    if let Some(id) = path.strip_prefix("sys/remount/status/") {
        return Ok(Endpoint::RemountStatus(id.to_owned()));
    }
    if let Some(device) = path.strip_prefix("sys/audit/") {
        return Ok(Endpoint::AuditDevice(device.to_owned()));
    }
    if let Some(device) = path.strip_prefix("sys/audit-hash/") {
        return Ok(Endpoint::AuditHash(device.to_owned()));
    }
    if let Some(prefix) = path.strip_prefix("sys/leases/revoke-prefix/") {
        return Ok(Endpoint::RevokePrefix(prefix.to_owned()));
    }
    let tune = path.strip_prefix("sys/auth/").or_else(|| path.strip_prefix("sys/mounts/auth/"));
    if let Some(mount) = tune.and_then(|p| p.strip_suffix("/tune")) {
        return Ok(Endpoint::AuthTune(mount.to_owned()));
    }
    if let Some(mount) = path.strip_prefix("sys/auth/") {
        return Ok(Endpoint::AuthMount(mount.to_owned()));
    }
    let rest = path.strip_prefix("auth/").ok_or_else(no_handler)?;
    // The longest enabled mount that prefixes the path owns it.
    let mount = mounts
        .iter()
        .filter(|m| rest.strip_prefix(m.as_str()).is_some_and(|tail| tail.starts_with('/')))
        .max_by_key(|m| m.len())
        .ok_or_else(no_handler)?;
    let tail = &rest[mount.len() + 1..];
    match tail.split_once('/') {
        None if tail == "login" => Ok(Endpoint::Login(mount.clone())),
        None if tail == "config" => Ok(Endpoint::Config(mount.clone())),
        None if tail == "role" => Ok(Endpoint::Roles(mount.clone())),
        Some(("role", name)) if !name.is_empty() => Ok(Endpoint::Role(mount.clone(), name.to_owned())),
        _ => Err(no_handler()),
    }
}
