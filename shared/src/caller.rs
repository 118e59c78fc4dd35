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

/// An agent calling with its key: the SHA-256 of the key it presented. Whether the key is valid,
/// and whose agent it is, is settled inside the statement it makes (`agent_of_key`), as a
/// person's session is (`session_is_live`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentCaller {
    pub key_hash: [u8; 32],
}
