//! Authentication: password hashing, access tokens, the Bearer guard, sessions, and the login
//! throttle.

pub mod guard;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;

pub use guard::{
    Actor, AgentCaller, Caller, agent_key_refused, authenticate, authenticate_actor,
    authenticate_agent, authenticate_token, ensure_session_live, not_found, session_ended,
};
pub use token::TokenKeys;
