//! The outcome of a conditional write (an `If-Match` update or delete) and, when it touched
//! nothing, why.

/// What a conditional write did.
#[derive(Debug)]
pub enum Written<T> {
    /// Written; the row as it is now.
    Done(T),
    /// The row exists but is at another version: 412.
    Stale,
    /// No such row of this owner (or the caller's session has ended: the handler's
    /// `not_found` tells a 404 from a 401).
    Missing,
}

impl<T> Written<T> {
    /// Why a write that touched nothing did not, from a second statement on the failure path
    /// only: whether the caller's session stands and whether the owner's row exists.
    pub fn why_not(live: bool, there: bool) -> Self {
        if live && there {
            Written::Stale
        } else {
            Written::Missing
        }
    }
}
