//! Differences from OpenBao kept on purpose. Each names the section of
//! docs/vault-compatibility.md that says why; the suite checks the section exists and that
//! every entry is still needed.

use crate::Difference;

#[derive(Debug)]
pub struct Accepted {
    /// Case-name prefixes (empty: every case).
    pub cases: &'static [&'static str],
    /// JSON pointers (`status` for the status code): exact, `prefix*` or `*suffix`.
    pub pointers: &'static [&'static str],
    /// Text that docs/vault-compatibility.md contains where it explains this.
    pub doc: &'static str,
}

impl Accepted {
    pub fn matches(&self, difference: &Difference) -> bool {
        let case = self.cases.is_empty() || self.cases.iter().any(|c| difference.case.starts_with(c));
        let pointer = self.pointers.iter().any(|p| match (p.strip_prefix('*'), p.strip_suffix('*')) {
            (Some(suffix), _) => difference.pointer.ends_with(suffix),
            (_, Some(prefix)) => difference.pointer.starts_with(prefix),
            _ => difference.pointer == *p,
        });
        case && pointer
    }
}

pub fn covers(difference: &Difference) -> bool {
    ACCEPTED.iter().any(|entry| entry.matches(difference))
}

pub const ACCEPTED: &[Accepted] = &[
    Accepted { cases: &[], pointers: &["/mount_type"], doc: "`mount_type` in every response" },
    Accepted { cases: &[], pointers: &["*running_plugin_version"], doc: "`running_plugin_version` names jwtgate" },
    Accepted {
        cases: &[],
        pointers: &[
            "/data/token_strictly_bind_ip",
            "/data/token_policies_template_claims",
            "/data/oidc_disable_confirmation",
            "/data/oauth2_metadata",
            "/data/callback_mode",
            "/data/override_allowed_server_names",
            "/data/status",
            "*cas_required",
            "*allow_wildcards_in_identity_templates",
            "*allow_slashes_in_identity_templates",
            "/data/version",
            "/version",
            "/data/modified",
            "/modified",
            "/commit_date",
        ],
        doc: "OpenBao-only fields",
    },
    Accepted {
        cases: &[],
        pointers: &[
            "/data/alias_metadata",
            "/data/jwks_pairs",
            "/data/unsupported_critical_cert_extensions",
            "/data/jwt_validation_jwks",
        ],
        doc: "Vault fields OpenBao lacks",
    },
    Accepted {
        cases: &["probe sys/health", "probe sys/leader", "probe sys/seal-status"],
        pointers: &[
            "/performance_standby",
            "/is_self",
            "/active_time",
            "/leader_address",
            "/leader_cluster_address",
            "/performance_standby_last_remote_wal",
            "/build_date",
            "/storage_type",
        ],
        doc: "Status probes answer as Vault documents them",
    },
    Accepted { cases: &[], pointers: &["/errors"], doc: "`invalid token` after `permission denied`" },
    Accepted {
        cases: &[
            "auth/token/create ttl beyond max",
            "auth/token/create-orphan ttl beyond max",
            "auth/token/create explicit max ttl",
            "auth/token/create-orphan explicit max ttl",
            "token renew beyond explicit max",
            "token role create lesser explicit max as user",
            "token role create role explicit max",
        ],
        pointers: &["/warnings/0", "/warnings/1"],
        doc: "Durations in warnings as Go prints them",
    },
    Accepted {
        cases: &["token lookup root"],
        pointers: &["/data/display_name", "/data/path"],
        doc: "The dev root token as Vault makes it",
    },
    Accepted {
        cases: &["read sys/policy/default", "read sys/policies/acl/default"],
        pointers: &["/data/rules", "/rules", "/data/policy"],
        doc: "The `default` policy grants only what jwtgate serves",
    },
    Accepted { cases: &["read sys/internal/ui/mounts"], pointers: &["/data/secret/*"], doc: "No secret engines" },
    Accepted { cases: &["remount "], pointers: &["/warnings/0"], doc: "Vault's own words where OpenBao names itself" },
    Accepted {
        cases: &["audit enable over the API"],
        pointers: &["status"],
        doc: "Audit devices are enabled over the API",
    },
    Accepted {
        cases: &["auth/token/create own id", "token role create own id"],
        pointers: &["/warnings"],
        doc: "No SHA1 warning for custom token IDs",
    },
    Accepted {
        cases: &["config unknown field", "role frobnicate"],
        pointers: &["status"],
        doc: "Unknown parameters get Vault's warning",
    },
    Accepted {
        cases: &[
            "batch token with own id",
            "policy allowed parameters",
            "legacy policy allowed parameters",
            "policy min wrapping ttl",
            "legacy policy min wrapping ttl",
            "mount local",
            "mount seal wrap",
            "tune audit keys",
        ],
        pointers: &[
            "status",
            "/errors/0",
            "/local",
            "/data/local",
            "/seal_wrap",
            "/data/seal_wrap",
            "*audit_non_hmac_request_keys",
        ],
        doc: "Refused, never silently dropped",
    },
    Accepted {
        cases: &[
            "auth/token/create bad meta",
            "auth/token/create-orphan bad meta",
            "lookup of a token created with bad meta",
            "policy named a/b",
            "role name with odd bytes",
            "mount at bad%21path",
        ],
        pointers: &["status"],
        doc: "Stricter input checks",
    },
    Accepted {
        cases: &[
            "read sys/",
            "token accessors as user",
            "mount as non-root",
            "policy write as user",
            "unknown path",
            "token lookup-accessor",
            "mount bad ttl",
            "tune bad ttl",
            "broken json",
            "json array body",
            "auth/token/create bad ttl",
            "auth/token/create-orphan bad ttl",
            "token renew with bad increment",
            "config not a key",
            "config a certificate-looking block",
            "config empty key list",
            "config nothing",
            "config keys and",
            "config response types",
            "role bound_claims=\"k=v\"",
            "role token_ttl=\"soon\"",
            "role token_bound_cidrs=\"nope\"",
            "role token_no_default_policy=\"yes\"",
            "login garbage",
            "login unsigned",
            "login jwt not a string",
            "policy unknown",
            "legacy policy unknown",
            "policy broken",
            "legacy policy broken",
            "token role write orphan junk",
            "token role write bad cidr",
            "token role bad name",
            "remount as user",
            "help unknown path",
            "rewrap as user",
            "a wrapping token used as a client token is spent",
            "audit GET sys/audit as user",
            "audit PUT sys/audit",
            "audit DELETE sys/audit/f as user",
        ],
        pointers: &["/errors/0"],
        doc: "Error texts that differ",
    },
    Accepted {
        cases: &["token role renew"],
        pointers: &["status", "/errors/0"],
        doc: "A client's mistake is 4xx where OpenBao answers 500",
    },
    Accepted { cases: &["help "], pointers: &["/help", "/openapi", "/id"], doc: "Path help is a short text" },
];
