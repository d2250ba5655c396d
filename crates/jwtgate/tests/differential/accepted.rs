//! Differences from OpenBao kept on purpose. Each names the section of
//! docs/vault-compatibility.md that says why; the suite checks the section exists and that
//! every entry is still needed.

use crate::Difference;

#[derive(Debug)]
pub struct Accepted {
    /// Case-name prefix ("" for every case).
    pub case: &'static str,
    /// JSON pointer, or a prefix of one ending in `*`.
    pub pointer: &'static str,
    /// Text that docs/vault-compatibility.md contains where it explains this.
    pub doc: &'static str,
}

impl Accepted {
    pub fn matches(&self, difference: &Difference) -> bool {
        let pointer = match self.pointer.strip_suffix('*') {
            Some(prefix) => difference.pointer.starts_with(prefix),
            None => difference.pointer == self.pointer,
        };
        difference.case.starts_with(self.case) && pointer
    }
}

pub fn covers(difference: &Difference) -> bool {
    ACCEPTED.iter().any(|entry| entry.matches(difference))
}

pub const ACCEPTED: &[Accepted] = &[];
