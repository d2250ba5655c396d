//! The request pipeline, in Vault's order: resolve the route → authenticate the token →
//! authorise against its policies → (audit the request) → route to the subsystem → issue the
//! token when an auth method logged someone in → (audit the response). Every request takes
//! this one path; the audit stages are where audit devices will hook in.

use crate::acl::policies::Policies;
use crate::acl::Capability;
use crate::audit::entry::MountInfo;
use crate::audit::trail::Trail;
use crate::audit::Audit;
use crate::auth::review::LocalServiceAccount;
use crate::auth::{Methods, Services};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::request::{
    parse_body, unknown_fields_warning, Body, Operation, Request, Response, BODY_LIMIT, LOGIN_BODY_LIMIT,
};
use crate::router::{self, Access, CapabilitiesOf, Endpoint};
use crate::sys;
use crate::time::unix;
use crate::token::batch::Sealer;
use crate::token::ttl::SystemTtl;
use crate::token::wrapping::{self, WrapAction};
use crate::token::{Caller, Creation, Tokens};
use jwtgate_store::{Store, StoreError};
use jwtgate_verifier::{Fetch, Review};
use std::sync::Arc;
use std::time::SystemTime;

/// Reads the clock; the server passes the real one, tests a fixed one.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How a core is set up besides its store, fetcher and clock.
pub struct Options {
    pub system: SystemTtl,
    /// Serve `sys/metrics` without a token (Vault's `unauthenticated_metrics_access`).
    pub unauthenticated_metrics: bool,
    pub reviewer: Arc<dyn Review>,
    pub local_service_account: LocalServiceAccount,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            system: SystemTtl::default(),
            unauthenticated_metrics: false,
            reviewer: Arc::new(jwtgate_verifier::HttpsReviewer::default()),
            local_service_account: LocalServiceAccount::default(),
        }
    }
}

/// jwtgate's Vault core: one per process, shared by every request.
pub struct Core {
    pub store: Arc<Store>,
    pub tokens: Tokens,
    pub policies: Policies,
    pub methods: Methods,
    pub metrics: Metrics,
    pub audit: Audit,
    migrations: sys::remount::Migrations,
    clock: Clock,
    unauthenticated_metrics: bool,
    /// The store's change counter when this replica last dropped its caches.
    followed: std::sync::atomic::AtomicU64,
}

impl Core {
    /// Loads (or creates) the batch-token key ring.
    pub fn new(store: Arc<Store>, fetcher: Arc<dyn Fetch>, clock: Clock, options: Options) -> Result<Core, StoreError> {
        let now = unix(clock());
        crate::token::bound_store_waits(store.deadline());
        let sealer = Sealer::new(&store.key_ring(now)?);
        let services =
            Services { fetcher, reviewer: options.reviewer, local_service_account: options.local_service_account };
        Ok(Core {
            tokens: Tokens { store: store.clone(), sealer, system: options.system },
            policies: Policies::new(store.clone()),
            methods: Methods::new(store.clone(), services, options.system),
            metrics: Metrics::default(),
            migrations: sys::remount::Migrations::default(),
            audit: Audit::load(store.clone())?,
            followed: store.coherence().map_or(0, |c| c.changes).into(),
            store,
            clock,
            unauthenticated_metrics: options.unauthenticated_metrics,
        })
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        unix((self.clock)())
    }

    /// The largest body the transport should read for `path`: login bodies hold one JWT.
    pub fn body_limit(&self, path: &str) -> usize {
        let mounts = self.mount_paths().unwrap_or_default();
        match router::resolve(path, &mounts) {
            Ok(Endpoint::Login(_)) => LOGIN_BODY_LIMIT,
            _ => BODY_LIMIT,
        }
    }

    fn mount_paths(&self) -> Result<Vec<String>, Error> {
        Ok(self.methods.mounts()?.iter().map(|m| m.path.clone()).collect())
    }

    /// Public endpoints never look at a token: a stale one on a login is ignored, and a
    /// use-limited one is not spent.
    fn is_public(&self, endpoint: &Endpoint) -> bool {
        endpoint.access() == Access::Public || (*endpoint == Endpoint::Metrics && self.unauthenticated_metrics)
    }

    /// Handles one request, recorded on the audit devices enabled when it arrived.
    pub async fn handle(&self, request: Request) -> Result<Response, Error> {
        let mut trail = Trail::new(self.audit.devices(), &request);
        let result = self.process(&request, &mut trail).await;
        if !trail.is_on() {
            return result;
        }
        trail.finish(&request, result, &self.audit_time())
    }

    fn audit_time(&self) -> String {
        crate::time::rfc3339_nanos((self.clock)())
    }

    /// Drops every cache when another replica changed what they hold (the store's change
    /// counter moved); refuses, but for `sys/health`, when the counter could not be read for
    /// longer than the staleness bound, so the caches may be that old.
    fn follow_changes(&self, path: &str) -> Result<(), Error> {
        let Some(coherence) = self.store.coherence() else { return Ok(()) };
        let seen = self.followed.swap(coherence.changes, std::sync::atomic::Ordering::SeqCst);
        if seen != coherence.changes {
            self.methods.invalidate(crate::auth::Change::Mounts);
            self.policies.invalidate(None);
            if let Err(error) = self.audit.reload() {
                // Taken up again by the next request.
                self.followed.store(seen, std::sync::atomic::Ordering::SeqCst);
                return Err(error.into());
            }
        }
        match coherence.fresh || path.trim_matches('/') == "sys/health" {
            true => Ok(()),
            false => Err(Error::Unavailable(
                "storage unavailable: the database has not been reachable for longer than storage.postgresql.staleness, so this replica's configuration may be stale".into(),
            )),
        }
    }

    async fn process(&self, request: &Request, trail: &mut Trail) -> Result<Response, Error> {
        self.follow_changes(&request.path)?;
        // A namespace is refused, never dropped: a write meant for one must not land in the root.
        if request.namespace.as_deref().is_some_and(|ns| !matches!(ns.trim_matches('/'), "" | "root")) {
            return Err(Error::NamespaceNotFound);
        }
        let wrap_ttl = wrapping::requested_ttl(request.wrap_ttl.as_deref())?;
        // Resolve.
        let resolved = router::resolve(&request.path, &self.mount_paths()?);
        if trail.is_on() {
            trail.mount(self.audit_mount(resolved.as_ref().ok())?);
            if matches!(resolved, Ok(Endpoint::AuditDevice(_))) {
                trail.recovery();
            }
        }
        // Vault checks the wrapping token a `sys/wrapping/*` call names before anything else;
        // an unwrap that names none unwraps (and so spends) the one it was sent with, which
        // authentication must then not spend.
        if let Ok(Endpoint::Wrapping(action)) = &resolved {
            if *action != WrapAction::Wrap && request.query("help").is_none() {
                let body = parse_body(&request.body)?;
                let named = wrapping::named_token(&body, None)?;
                let presented_only = named.is_none();
                let token = named.or_else(|| request.token.clone());
                self.tokens.validate_wrapping(token.as_deref(), self.now()).await?;
                if *action == WrapAction::Unwrap && presented_only && request.operation != Operation::List {
                    trail.request(&body, || self.audit_time())?;
                    return self.tokens.unwrap(token, self.now()).await;
                }
            }
        }
        // Authenticate.
        let presented = request.token.is_some();
        let mut caller = match (&resolved, &request.token) {
            // The UI listing is public, and shows more to a token that is presented.
            (Ok(Endpoint::UiMounts(_)), Some(token)) => {
                self.tokens.authenticate(token, request.peer, self.now()).await?
            }
            (Ok(endpoint), _) if self.is_public(endpoint) => None,
            (_, Some(token)) => self.tokens.authenticate(token, request.peer, self.now()).await?,
            (_, None) => None,
        };
        // A token of a disabled auth mount is refused, also one another replica issued in the
        // moment before it learned of the disable (after the disable's revocation scan).
        let disabled = match caller.as_ref().map(|c| c.record.mount.as_str()) {
            None | Some("" | "token") => false,
            Some(mount) => self.methods.mount(mount)?.is_none(),
        };
        if disabled {
            caller = None;
        }
        if let (Some(caller), true) = (&caller, trail.is_on()) {
            trail.caller(&caller.token, &caller.record);
        }
        let endpoint = match resolved {
            Ok(endpoint) => endpoint,
            // Vault: an unknown path needs a token before it is admitted to be unknown.
            Err(error) if caller.as_ref().is_some_and(Caller::is_root) => return Err(error),
            Err(_) if presented && caller.is_none() => return Err(Error::InvalidToken),
            Err(_) => return Err(Error::PermissionDenied),
        };
        // Path help needs a valid token (except on public paths) and no capability, as in Vault.
        if request.query("help").is_some_and(|value| !value.is_empty()) {
            return match caller.is_some() || self.is_public(&endpoint) {
                true => Ok(Response::json(serde_json::json!({ "help": endpoint.help(), "see_also": null }))),
                false if presented => Err(Error::InvalidToken),
                false => Err(Error::PermissionDenied),
            };
        }
        // Authorise.
        if !self.is_public(&endpoint) {
            let caller = match &mut caller {
                Some(caller) => caller,
                None if presented => return Err(Error::InvalidToken),
                None => return Err(Error::PermissionDenied),
            };
            self.authorise(caller, &endpoint, request).await?;
        }
        if !endpoint.operations().contains(&request.operation) {
            return Err(Error::UnsupportedOperation);
        }
        let body = parse_body(&request.body)?;
        // Audit the request: nothing is handled unless a device recorded it.
        trail.request(&body, || self.audit_time())?;
        // Route, and issue the token of a login.
        let response = self.route(endpoint, caller, request, &body).await?;
        // Wrap the answer when asked (an empty one, 204, is not wrapped; a rewrap is already).
        let response = match (wrap_ttl, response) {
            (Some(ttl), Response::Logical(answer)) if answer.wrap_info.is_null() => {
                let path = request.path.trim_end_matches('/');
                self.tokens.wrap(answer, &request.id, path, ttl, self.now()).await?
            }
            (_, response) => response,
        };
        // The response is audited by `handle`, whatever the outcome.
        Ok(response)
    }

    /// The mount an endpoint belongs to, as audit entries name it.
    fn audit_mount(&self, endpoint: Option<&Endpoint>) -> Result<MountInfo, Error> {
        let auth_mount = match endpoint {
            Some(
                Endpoint::Config(mount) | Endpoint::Roles(mount) | Endpoint::Role(mount, _) | Endpoint::Login(mount),
            ) => Some(mount.as_str()),
            Some(endpoint) if endpoint.kind().starts_with("token") => Some("token"),
            Some(_) => None,
            None => return Ok(MountInfo::default()),
        };
        Ok(match auth_mount {
            Some(path) => {
                let (kind, accessor) = match path {
                    "token" => ("token".to_owned(), sys::TOKEN_MOUNT_ACCESSOR.to_owned()),
                    _ => self.methods.mount(path)?.map(|m| (m.kind, m.accessor)).unwrap_or_default(),
                };
                MountInfo { point: format!("auth/{path}/"), kind, accessor, class: "auth" }
            }
            None => MountInfo { point: "sys/".into(), kind: "system".into(), accessor: String::new(), class: "secret" },
        })
    }

    /// The caller's policies must grant the operation on the path (and `sudo` where the
    /// endpoint needs it); records whether the caller has `sudo` there.
    async fn authorise(&self, caller: &mut Caller, endpoint: &Endpoint, request: &Request) -> Result<(), Error> {
        if caller.is_root() {
            return Ok(());
        }
        let acl = self.policies.acl(&caller.record.policies).await?;
        // Vault checks list permissions on the path with a trailing slash.
        let path = request.path.trim_end_matches('/');
        let acl_path = if request.operation == Operation::List { format!("{path}/") } else { path.to_owned() };
        let granted = acl.capabilities(&acl_path);
        let allowed = match request.operation {
            Operation::Read | Operation::Head => granted.contains(&Capability::Read),
            Operation::List => granted.contains(&Capability::List),
            Operation::Delete => granted.contains(&Capability::Delete),
            Operation::Write => granted.contains(&Capability::Create) || granted.contains(&Capability::Update),
        };
        caller.sudo = granted.contains(&Capability::Sudo);
        if !allowed || (endpoint.access() == Access::Sudo && !caller.sudo) {
            return Err(Error::PermissionDenied);
        }
        Ok(())
    }

    async fn route(
        &self,
        endpoint: Endpoint,
        caller: Option<Caller>,
        request: &Request,
        body: &Body,
    ) -> Result<Response, Error> {
        let (operation, now) = (request.operation, self.now());
        // Only public endpoints get here without a caller.
        let presented = caller.as_ref().map(|c| (c.is_root(), c.record.policies.clone()));
        let caller = || caller.ok_or(Error::PermissionDenied);
        match endpoint {
            Endpoint::Health => sys::health(&self.store, request, now).await,
            Endpoint::Init => sys::init(&self.store, operation, now).await,
            Endpoint::AuthList => Ok(sys::auth_list(&self.methods.mounts()?)),
            Endpoint::AuthMount(_) if operation == Operation::Write && request.path.ends_with('/') => {
                Err(Error::BadRequest("cannot write to a path ending in '/'".into()))
            }
            Endpoint::AuthMount(path) => sys::auth_mount(&self.methods, operation, &path, body).await,
            Endpoint::AuthTune(path) => sys::tune(&self.methods, operation, &path, body).await,
            Endpoint::Remount => sys::remount::remount(&self.methods, &self.migrations, body).await,
            Endpoint::RemountStatus(id) => self.migrations.status(&id),
            Endpoint::AuditList => Ok(self.audit.list()),
            Endpoint::AuditDevice(path) if operation == Operation::Delete => self.audit.disable(&path).await,
            Endpoint::AuditDevice(path) => self.audit.enable(&path, body).await,
            Endpoint::AuditHash(path) => self.audit.hash(&path, body),
            Endpoint::Wrapping(action) => {
                let presented = request.token.as_deref();
                match action {
                    WrapAction::Wrap if wrapping::requested_ttl(request.wrap_ttl.as_deref())?.is_none() => {
                        Err(Error::BadRequest("endpoint requires response wrapping to be used".into()))
                    }
                    WrapAction::Wrap => Ok(Response::data(serde_json::Value::Object(body.clone()), "system")),
                    WrapAction::Unwrap => self.tokens.unwrap(wrapping::named_token(body, None)?, now).await,
                    WrapAction::Lookup => self.tokens.wrap_lookup(wrapping::named_token(body, presented)?, now).await,
                    WrapAction::Rewrap => self.tokens.rewrap(wrapping::named_token(body, presented)?, now).await,
                }
            }
            Endpoint::Policies => self.policies.list(false).await,
            Endpoint::Policy(name) => self.policies.handle(operation, &name, body, false).await,
            Endpoint::LegacyPolicies => self.policies.list(true).await,
            Endpoint::LegacyPolicy(name) => self.policies.handle(operation, &name, body, true).await,
            Endpoint::SealStatus => sys::info::seal_status(&self.store).await,
            Endpoint::Leader => Ok(sys::info::leader()),
            Endpoint::Capabilities(of) => {
                let paths = sys::info::capability_paths(body)?;
                let policies = match of {
                    CapabilitiesOf::Caller => caller()?.record.policies,
                    CapabilitiesOf::Token => self.tokens.policies_of(body, false, now).await?,
                    CapabilitiesOf::Accessor => self.tokens.policies_of(body, true, now).await?,
                };
                let acl = match policies.iter().any(|p| p == "root") {
                    true => None,
                    false => Some(self.policies.acl(&policies).await?),
                };
                Ok(sys::info::capabilities(acl.as_ref(), &paths))
            }
            Endpoint::UiMounts(one) => {
                let acl = match presented {
                    None => None,
                    Some((true, _)) => Some(None),
                    Some((false, policies)) => Some(Some(self.policies.acl(&policies).await?)),
                };
                let acl = acl.as_ref().map(Option::as_ref);
                sys::info::ui_mounts(&self.methods.mounts()?, acl, one.as_deref())
            }
            Endpoint::TokenAccessors => self.tokens.accessors(now).await,
            Endpoint::TokenTidy => self.tokens.tidy(&request.id, now).await,
            Endpoint::RevokePrefix(prefix) => self.tokens.revoke_prefix(&prefix).await,
            Endpoint::Metrics => {
                if request.query("format") != Some("prometheus") {
                    return Err(Error::BadRequest("only format=prometheus is supported".into()));
                }
                let text = self.metrics.render(&self.methods.fetch_counts(), self.store.token_records());
                Ok(Response::Text { content_type: "text/plain; version=0.0.4", body: text })
            }
            Endpoint::TokenLookupSelf => self.tokens.lookup_self(caller()?, now),
            Endpoint::TokenRenewSelf => self.tokens.renew_self(caller()?, body, &self.methods, now).await,
            Endpoint::TokenRevokeSelf => self.tokens.revoke_self(caller()?).await,
            Endpoint::TokenAdmin(action) => self.tokens.admin(action, caller()?, body, &self.methods, now).await,
            Endpoint::TokenRoles => self.tokens.list_token_roles().await,
            Endpoint::TokenRole(name) => self.tokens.token_role_endpoint(operation, &name, body).await,
            Endpoint::TokenCreateRole(role) => {
                let path = format!("auth/token/create/{role}");
                self.tokens.create(caller()?, body, Creation::Role(&role), &path, now).await
            }
            Endpoint::Config(mount) => self.methods.config(operation, &mount, body).await,
            Endpoint::Roles(mount) => self.methods.list_roles(&mount).await,
            Endpoint::Role(mount, name) => self.methods.role(operation, &mount, &name, body).await,
            Endpoint::Login(mount) => {
                let started = std::time::Instant::now();
                let result = self.login(&mount, request, body).await;
                let outcome = match &result {
                    Ok(_) => "success",
                    Err(Error::PermissionDenied | Error::LoginDenied(_) | Error::Forbidden(_)) => "denied",
                    Err(_) => "failure",
                };
                self.metrics.record_login(&mount, outcome, started.elapsed());
                result
            }
        }
    }

    /// The method decides who logged in; the core issues the token.
    async fn login(&self, mount: &str, request: &Request, body: &Body) -> Result<Response, Error> {
        let runtime = self.methods.runtime(mount)?;
        let login = runtime.login(&self.methods.services, body, request.peer, (self.clock)()).await?;
        let (auth, mut warnings) = self.tokens.issue(runtime.mount(), login, self.now()).await?;
        warnings.extend(unknown_fields_warning(body, runtime.login_fields()));
        Ok(Response::auth(auth, "", warnings))
    }
}
