//! Account input, parsed into types that can only hold valid values. Every rule that fails is
//! reported, for every field, in one 422.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use crate::error::{ApiError, FieldErrors};

/// A username: 3 to 32 ASCII letters, digits, `_`, `.` or `-`. ASCII only, so that two
/// accounts cannot look alike through confusable Unicode letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let len = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            problems.push(format!(
                "must be {} to {} characters long",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            problems.push("may only contain letters A-Z and a-z, digits, '_', '.' and '-'".into());
        }
        if problems.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(problems)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, lower-cased, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let email = login_key(raw);
        if email.chars().count() > Self::MAX_CHARS {
            return Err(vec![format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )]);
        }
        if !is_plausible_address(&email) {
            return Err(vec![
                "must be a valid email address, like name@example.com".into(),
            ]);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }
}

/// The one form of a name or address typed to find an account: trimmed, Unicode NFC (the same
/// address typed in NFC and in NFD is one account), lower-cased. Emails are stored in it, and
/// logins look accounts up by it.
pub fn login_key(raw: &str) -> String {
    raw.trim().nfc().collect::<String>().to_lowercase()
}

/// A password as it is hashed and checked: Unicode NFC, so the same password typed on systems
/// that compose characters differently is the same password (NIST SP 800-63B-4).
pub fn normalize_password(raw: &str) -> String {
    raw.nfc().collect()
}

/// The practical shape of an address (RFC 5321 limits, a dotted domain, no whitespace or
/// control characters): strict enough to catch typos, loose enough for real addresses.
fn is_plausible_address(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| {
            tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
        });
    local_ok && domain_ok
}

/// A new password that passes the rules of NIST SP 800-63B for a password-only login. It is
/// never longer than bcrypt can hash without truncating.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 15;
    pub const MAX_CHARS: usize = 64;
    /// bcrypt hashes at most 72 bytes; a longer password would be silently cut.
    pub const MAX_BYTES: usize = 72;

    /// Checks length, bcrypt's byte limit, repetition, the account's own names, and whether
    /// the password is common or easily guessed (ranked lists of common passwords, words and names,
    /// keyboard and other patterns, with the username and email as extra words).
    pub fn parse(
        raw: &str,
        username: Option<&str>,
        email: Option<&Email>,
    ) -> Result<Self, Vec<String>> {
        let normalized = normalize_password(raw);
        let raw = normalized.as_str();
        let mut problems = Vec::new();
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            problems.push(format!(
                "must be at least {} characters long",
                Self::MIN_CHARS
            ));
        } else if chars > Self::MAX_CHARS {
            problems.push(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            ));
        }
        if raw.contains('\0') {
            problems.push("must not contain the NUL character (\\u0000)".into());
        }
        if raw.len() > Self::MAX_BYTES {
            problems.push(format!(
                "is {} bytes as UTF-8; at most {} bytes are allowed (the limit of bcrypt, \
                 which would otherwise ignore the rest); use fewer or simpler characters",
                raw.len(),
                Self::MAX_BYTES
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }

        let lower = raw.to_lowercase();
        let mut first = raw.chars();
        if let Some(c) = first.next()
            && first.all(|other| other == c)
        {
            problems.push("must not be a single character repeated".into());
        }
        if let Some(username) = username
            && lower.contains(&username.to_lowercase())
        {
            problems.push("must not contain your username".into());
        }
        if let Some(email) = email {
            let local = email.local_part();
            // A very short local part ("a@...") would forbid almost every password.
            if local.chars().count() >= Username::MIN_CHARS && lower.contains(local) {
                problems.push("must not contain the name part of your email address".into());
            }
        }
        if problems.is_empty()
            && let Some(reason) = guessable(raw, username, email)
        {
            problems.push(reason);
        }
        if problems.is_empty() {
            Ok(Self(SecretString::from(raw)))
        } else {
            Err(problems)
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn secret(&self) -> SecretString {
        self.0.clone()
    }
}

/// Why the password is too easy to guess, or `None` when it is not: fewer than 10^8 guesses
/// (zxcvbn's score 3, "safely unguessable") by the zxcvbn crate, which tries the account's own
/// words (username, email) first, as an attacker targeting this account would.
fn guessable(password: &str, username: Option<&str>, email: Option<&Email>) -> Option<String> {
    let mut account: Vec<&str> = Vec::new();
    account.extend(username);
    if let Some(email) = email {
        account.push(email.as_str());
        account.push(email.local_part());
    }
    let estimate = zxcvbn::zxcvbn(password, &account);
    if estimate.guesses() >= MIN_GUESSES {
        return None;
    }
    Some(
        match estimate.feedback().and_then(|feedback| feedback.warning()) {
            Some(warning) => format!(
                "is too easy to guess: {}; use a longer phrase of unrelated words",
                warning.to_string().trim_end_matches('.').to_lowercase()
            ),
            None => "is too easy to guess; use a longer phrase of unrelated words".into(),
        },
    )
}

/// A new password needs at least 10^8 guesses: an online attacker, throttled, never gets there,
/// and it is zxcvbn's bar for "safely unguessable".
const MIN_GUESSES: u64 = 100_000_000;

/// The body of POST /api/users/register, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<SecretString>,
}

/// A valid registration.
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password: NewPassword,
}

impl NewUser {
    /// Validates every field, reporting all problems at once.
    pub fn parse(request: RegisterRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let mut record = |field: &str, problems: Vec<String>| {
            for problem in problems {
                errors.add(field, problem);
            }
        };
        let required = || vec!["is required".to_owned()];

        let username = match request.username.as_deref() {
            Some(raw) => Username::parse(raw).map_err(|p| record("username", p)).ok(),
            None => {
                record("username", required());
                None
            }
        };
        let email = match request.email.as_deref() {
            Some(raw) => Email::parse(raw).map_err(|p| record("email", p)).ok(),
            None => {
                record("email", required());
                None
            }
        };
        let password = match &request.password {
            Some(raw) => {
                // Check against the username as typed even when it is otherwise invalid.
                let name = request.username.as_deref().filter(|name| !name.is_empty());
                NewPassword::parse(raw.expose_secret(), name, email.as_ref())
                    .map_err(|p| record("password", p))
                    .ok()
            }
            None => {
                record("password", required());
                None
            }
        };

        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(Self {
                username,
                email,
                password,
            }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// The login body: the account as `login` (username or email), or as `username` or `email`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    login: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<SecretString>,
}

/// A well-formed login attempt: which account (its `login_key`), and the password to check.
pub struct Credentials {
    pub login_key: String,
    pub password: SecretString,
}

impl Credentials {
    pub const MAX_LOGIN_CHARS: usize = 254;
    /// Far above any valid password, small enough that nothing large reaches bcrypt.
    pub const MAX_PASSWORD_BYTES: usize = 1024;

    pub fn parse(request: LoginRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let given: Vec<(&str, String)> = [
            ("login", request.login),
            ("username", request.username),
            ("email", request.email),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.map(|v| (field, v)))
        .collect();
        let login = match given.as_slice() {
            [(field, value)] => {
                let value = value.trim();
                if value.is_empty() {
                    errors.add(*field, "must not be empty");
                } else if value.contains('\0') {
                    errors.add(*field, "must not contain the NUL character (\\u0000)");
                } else if value.chars().count() > Self::MAX_LOGIN_CHARS {
                    errors.add(
                        *field,
                        format!("must be at most {} characters", Self::MAX_LOGIN_CHARS),
                    );
                }
                value.to_owned()
            }
            [] => {
                errors.add("login", "is required (a username or an email address)");
                String::new()
            }
            _ => {
                errors.add("login", "give only one of login, username and email");
                String::new()
            }
        };
        let password = match request.password {
            Some(password) if password.expose_secret().is_empty() => {
                errors.add("password", "must not be empty");
                password
            }
            Some(password) if password.expose_secret().len() > Self::MAX_PASSWORD_BYTES => {
                errors.add(
                    "password",
                    format!("must be at most {} bytes", Self::MAX_PASSWORD_BYTES),
                );
                password
            }
            Some(password) => password,
            None => {
                errors.add("password", "is required");
                SecretString::from("")
            }
        };
        let password = SecretString::from(normalize_password(password.expose_secret()));
        errors.into_result(Self {
            login_key: login_key(&login),
            password,
        })
    }
}

/// The body of PUT /api/users/me/password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    current_password: Option<SecretString>,
    new_password: Option<SecretString>,
}

/// A password change before the account is read: the current password to check, and the new
/// one as typed (its policy needs the account's names, see `NewPassword::parse`).
pub struct PasswordChange {
    pub current: SecretString,
    pub new: SecretString,
}

impl PasswordChange {
    pub fn parse(request: PasswordChangeRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let current = given_password(&mut errors, "current_password", request.current_password);
        let new = given_password(&mut errors, "new_password", request.new_password);
        errors.into_result(Self { current, new })
    }
}

/// The body of DELETE /api/users/me.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDeletionRequest {
    password: Option<SecretString>,
}

impl AccountDeletionRequest {
    /// The password to check, normalised.
    pub fn parse(self) -> Result<SecretString, ApiError> {
        let mut errors = FieldErrors::new();
        let password = given_password(&mut errors, "password", self.password);
        errors.into_result(password)
    }
}

/// A password field that must be present, non-empty and of a size bcrypt can be asked about.
fn given_password(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<SecretString>,
) -> SecretString {
    match value {
        None => errors.add(field, "is required"),
        Some(password) if password.expose_secret().is_empty() => {
            errors.add(field, "must not be empty")
        }
        Some(password) if password.expose_secret().len() > Credentials::MAX_PASSWORD_BYTES => {
            errors.add(
                field,
                format!("must be at most {} bytes", Credentials::MAX_PASSWORD_BYTES),
            )
        }
        Some(password) => return SecretString::from(normalize_password(password.expose_secret())),
    }
    SecretString::from("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "correct horse battery staple";

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap()
    }

    #[test]
    fn usernames_within_the_rules_are_accepted() {
        for name in ["ada", "Ada.Lovelace", "a-b_c.d", &"x".repeat(32), "007"] {
            assert!(Username::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn usernames_outside_the_rules_are_refused_with_reasons() {
        assert!(Username::parse("ab").unwrap_err()[0].contains("3 to 32"));
        assert!(Username::parse(&"x".repeat(33)).unwrap_err()[0].contains("3 to 32"));
        assert!(Username::parse("ada lovelace").unwrap_err()[0].contains("may only contain"));
        assert!(Username::parse("adá").unwrap_err()[0].contains("may only contain"));
        assert_eq!(Username::parse("a!").unwrap_err().len(), 2);
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email("  Ada@Example.COM ").as_str(), "ada@example.com");
        assert_eq!(
            email("first.last+tag@sub.example.co.uk").local_part(),
            "first.last+tag"
        );
        for bad in [
            "plainaddress",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@@example.com",
            "ada example@example.com",
            "ada@example..com",
            ".ada@example.com",
            "ada@-example.com",
            "ada@example.c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_of_254_characters_is_accepted_and_255_refused() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        let local_254 = "d".repeat(254 - 1 - domain.len());
        assert_eq!(format!("{local_254}@{domain}").len(), 254);
        assert!(Email::parse(&format!("{local_254}@{domain}")).is_ok());
        let err = Email::parse(&format!("{local_254}e@{domain}")).unwrap_err();
        assert!(err[0].contains("254"), "{err:?}");
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert!(NewPassword::parse(GOOD, None, None).is_ok());
        let short = NewPassword::parse("short phrase!", None, None)
            .err()
            .unwrap();
        assert!(short[0].contains("at least 15"), "{short:?}");
        // 15 characters, but 30 bytes: long enough.
        let cyrillic = "жёлтый кот спит";
        assert_eq!(cyrillic.chars().count(), 15);
        assert!(NewPassword::parse(cyrillic, None, None).is_ok());
        let long = NewPassword::parse(&"ab1 ".repeat(17), None, None)
            .err()
            .unwrap();
        assert!(long[0].contains("at most 64"), "{long:?}");
    }

    #[test]
    fn password_of_72_bytes_is_accepted_and_73_refused_with_the_reason() {
        // 72 bytes within 64 characters needs multibyte input.
        let within = format!(
            "{}{}",
            "ééé quiet violet rivers hum beneath paper lanterns",
            "é".repeat(9) + "!"
        );
        assert_eq!(within.len(), 72, "{}", within.len());
        assert!(within.chars().count() <= 64);
        assert!(NewPassword::parse(&within, None, None).is_ok());

        let over = format!("{within}!");
        assert_eq!(over.len(), 73);
        let err = NewPassword::parse(&over, None, None).err().unwrap();
        assert!(
            err[0].contains("73 bytes") && err[0].contains("72"),
            "{err:?}"
        );
    }

    #[test]
    fn multibyte_password_of_64_characters_over_72_bytes_is_refused() {
        let password = "ü".repeat(30) + &"zebra quilt moon ".repeat(2);
        assert_eq!(password.chars().count(), 64);
        assert!(password.len() > 72);
        let err = NewPassword::parse(&password, None, None).err().unwrap();
        assert_eq!(err.len(), 1);
        assert!(err[0].contains("bytes"), "{err:?}");
    }

    #[test]
    fn common_and_guessable_passwords_are_refused_with_a_reason() {
        for weak in [
            "passwordpassword",
            "123456789012345",
            "qwertyuiopasdfgh",
            "iloveyouiloveyou1",
        ] {
            let err = NewPassword::parse(weak, None, None)
                .err()
                .unwrap_or_else(|| panic!("{weak} passed"));
            assert!(err[0].contains("too easy to guess"), "{weak}: {err:?}");
        }
    }

    #[test]
    fn a_single_repeated_character_is_refused() {
        let err = NewPassword::parse(&"z".repeat(20), None, None)
            .err()
            .unwrap();
        assert!(err[0].contains("single character repeated"), "{err:?}");
    }

    #[test]
    fn password_containing_the_username_or_email_name_is_refused() {
        let err = NewPassword::parse("my name is AdaLovelace, hi", Some("adalovelace"), None)
            .err()
            .unwrap();
        assert!(err[0].contains("username"), "{err:?}");

        let address = email("grace.hopper@example.com");
        let err = NewPassword::parse("grace.hopper wrote cobol", None, Some(&address))
            .err()
            .unwrap();
        assert!(err[0].contains("email"), "{err:?}");

        let tiny = email("g@example.com");
        assert!(NewPassword::parse(GOOD, None, Some(&tiny)).is_ok());
    }

    #[test]
    fn the_same_address_in_nfc_and_nfd_is_one_address() {
        let composed = email("Jos\u{e9}@example.com");
        let decomposed = email("JOSE\u{301}@example.com");
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_str(), "jos\u{e9}@example.com");
        assert_eq!(login_key(" JOSE\u{301}@Example.com "), composed.as_str());
    }

    #[test]
    fn passwords_are_compared_in_nfc() {
        let nfd = "cafe\u{301} au lait, violet rivers";
        let nfc = "caf\u{e9} au lait, violet rivers";
        assert_eq!(normalize_password(nfd), nfc);
        let parsed = NewPassword::parse(nfd, None, None).ok().unwrap();
        assert_eq!(parsed.expose(), nfc);
    }

    #[test]
    fn registration_reports_every_invalid_field_at_once() {
        let request = RegisterRequest {
            username: Some("a!".into()),
            email: None,
            password: Some(SecretString::from("short")),
        };
        let Err(ApiError::Unprocessable(errors)) = NewUser::parse(request) else {
            panic!("expected 422");
        };
        assert_eq!(errors.get("username").unwrap().len(), 2);
        assert_eq!(errors.get("email").unwrap(), ["is required"]);
        assert!(errors.get("password").unwrap()[0].contains("at least 15"));
    }

    #[test]
    fn a_valid_registration_parses() {
        let request = RegisterRequest {
            username: Some("Ada".into()),
            email: Some("ADA@example.com".into()),
            password: Some(SecretString::from(GOOD)),
        };
        let user = NewUser::parse(request).ok().unwrap();
        assert_eq!(user.username.as_str(), "Ada");
        assert_eq!(user.email.as_str(), "ada@example.com");
        assert_eq!(user.password.expose(), GOOD);
    }
}
