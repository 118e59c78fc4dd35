//! Who is asking: the one fact about the request that the domain stores need. It sits below
//! both the stores and `auth` (which proves it from an access token), so no store imports from
//! the authentication layer above it.

use uuid::Uuid;

/// Who is calling: the user and the session their access token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
}
