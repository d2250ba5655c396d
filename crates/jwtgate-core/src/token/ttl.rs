//! Vault's TTL arithmetic (`CalculateTTL`): role values, mount tune, system limits.

use crate::error::Error;
use crate::token::params::TokenParams;
use jwtgate_store::{TokenRecord, Tune};

/// Vault's system default and maximum lease TTL: 768h.
pub const SYSTEM_TTL: i64 = 768 * 3600;

/// The server's default and maximum lease TTLs (`default_lease_ttl`, `max_lease_ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTtl {
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
}

impl Default for SystemTtl {
    fn default() -> SystemTtl {
        SystemTtl { default_lease_ttl: SYSTEM_TTL, max_lease_ttl: SYSTEM_TTL }
    }
}

impl SystemTtl {
    /// A mount's effective (default, max): its tune where set, else the system's.
    pub fn effective(&self, tune: Option<&Tune>) -> (i64, i64) {
        let pick = |value: u64, system: i64| if value > 0 { value as i64 } else { system };
        match tune {
            Some(tune) => {
                (pick(tune.default_lease_ttl, self.default_lease_ttl), pick(tune.max_lease_ttl, self.max_lease_ttl))
            }
            None => (self.default_lease_ttl, self.max_lease_ttl),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TtlLimits {
    default_ttl: i64,
    /// The effective maximum TTL (0 never happens: the system maximum always applies).
    max_ttl: i64,
    pub explicit_max_ttl: i64,
    pub period: i64,
}

impl TtlLimits {
    pub fn new(system: &SystemTtl, tune: Option<&Tune>, params: &TokenParams) -> TtlLimits {
        let (mount_default, mount_max) = system.effective(tune);
        let mut max_ttl = mount_max;
        for limit in [params.token_max_ttl, params.token_explicit_max_ttl] {
            if limit > 0 {
                max_ttl = max_ttl.min(limit);
            }
        }
        let default_ttl = if params.token_ttl > 0 { params.token_ttl } else { mount_default };
        TtlLimits { default_ttl, max_ttl, explicit_max_ttl: params.token_explicit_max_ttl, period: params.token_period }
    }

    /// The limits a token-store token keeps: its own creation parameters.
    pub fn own(system: &SystemTtl, ttl: i64, explicit_max_ttl: i64, period: i64) -> TtlLimits {
        let params = TokenParams {
            token_ttl: ttl,
            token_explicit_max_ttl: explicit_max_ttl,
            token_period: period,
            ..TokenParams::default()
        };
        TtlLimits::new(system, None, &params)
    }

    /// The TTL of a new token and the capping warnings.
    pub fn initial_ttl(&self) -> (i64, Vec<String>) {
        if self.period > 0 {
            if self.period > self.max_ttl {
                let warning = format!(
                    "period of \"{}\" exceeded the effective max_ttl of \"{}\"; period value is capped accordingly",
                    go_duration(self.period),
                    go_duration(self.max_ttl)
                );
                return (self.max_ttl, vec![warning]);
            }
            return (self.period, Vec::new());
        }
        if self.default_ttl > self.max_ttl {
            return (self.max_ttl, vec![capped_warning(self.default_ttl, self.max_ttl)]);
        }
        (self.default_ttl, Vec::new())
    }

    /// What a renewal asks for before the max TTL caps it: the period, the increment, or else
    /// the TTL the token was last granted (Vault renews with the auth's current TTL).
    pub fn wanted_renewal(&self, record: &TokenRecord, increment: i64) -> i64 {
        let last_granted = record
            .expire_time
            .map(|at| at - record.last_renewal_time.unwrap_or(record.creation_time))
            .filter(|t| *t > 0);
        if self.period > 0 {
            self.period
        } else if increment > 0 {
            increment
        } else {
            last_granted.unwrap_or(self.default_ttl)
        }
    }

    /// The TTL after a renewal at `now`: increment, else the role's TTL (period for periodic
    /// tokens), never past creation + max TTL (except periodic tokens without an explicit max).
    pub fn renewal_ttl(&self, record: &TokenRecord, increment: i64, now: i64) -> Result<i64, Error> {
        let wanted = self.wanted_renewal(record, increment);
        let hard_limit = if self.period > 0 && self.explicit_max_ttl == 0 {
            None
        } else {
            Some(record.creation_time + self.max_ttl)
        };
        match hard_limit {
            Some(limit) if now >= limit => Err(Error::BadRequest("past the max TTL, cannot renew".into())),
            Some(limit) => Ok(wanted.min(limit - now)),
            None => Ok(wanted),
        }
    }
}

/// Vault's warning when a requested TTL is cut to the effective maximum.
pub fn capped_warning(wanted: i64, granted: i64) -> String {
    format!(
        "TTL of \"{}\" exceeded the effective max_ttl of \"{}\"; TTL value is capped accordingly",
        go_duration(wanted),
        go_duration(granted)
    )
}

/// Seconds as Go prints a duration (`1h0m0s`), for Vault-identical messages.
pub fn go_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}
