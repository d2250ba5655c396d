//! The one place that reads the wall clock; everything else takes `now` as a parameter.
#![allow(clippy::disallowed_methods)]

use std::time::SystemTime;

pub fn now() -> SystemTime {
    SystemTime::now()
}

pub fn unix_now() -> i64 {
    now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
