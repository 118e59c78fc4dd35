//! Entity tags: a resource's version as its `ETag`, and what `If-Match` asks for (RFC 9110
//! section 13.1.1).

use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};

use crate::error::ApiError;

/// The entity tag of a version: the version number, quoted.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Adds the version as the response's `ETag`.
pub fn with_etag(mut response: Response<Body>, version: i64) -> Result<Response<Body>, ApiError> {
    let value = HeaderValue::from_str(&etag(version)).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::ETAG, value);
    Ok(response)
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let mut values = request
            .headers()
            .get_all(header::IF_MATCH)
            .iter()
            .peekable();
        if values.peek().is_none() {
            return Ok(Self::Any);
        }
        let mut versions = Vec::new();
        for value in values {
            let text = value
                .to_str()
                .map_err(|_| ApiError::BadRequest("If-Match is not readable".into()))?;
            for tag in text.split(',').map(str::trim) {
                if tag == "*" {
                    return Ok(Self::Any);
                }
                let version = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "If-Match must hold the resource's ETag, like \"3\"; got {tag:?}"
                        ))
                    })?;
                versions.push(version);
            }
        }
        Ok(Self::Versions(versions))
    }

    /// The versions to bind to a conditional statement: `None` for any version.
    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            Self::Any => None,
            Self::Versions(versions) => Some(versions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_if_match(values: &[&str]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for value in values {
            builder = builder.header(header::IF_MATCH, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn if_match_reads_quoted_versions_and_star() {
        assert_eq!(
            IfMatch::from_request(&request_with_if_match(&[])).unwrap(),
            IfMatch::Any
        );
        assert_eq!(
            IfMatch::from_request(&request_with_if_match(&["*"])).unwrap(),
            IfMatch::Any
        );
        let two = IfMatch::from_request(&request_with_if_match(&["\"3\", \"5\""])).unwrap();
        assert_eq!(two.versions(), Some(&[3, 5][..]));
        assert_eq!(IfMatch::Any.versions(), None);
        for bad in ["3", "W/\"3\"", "\"three\"", "\"\""] {
            let result = IfMatch::from_request(&request_with_if_match(&[bad]));
            assert!(matches!(result, Err(ApiError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn etags_quote_the_version() {
        assert_eq!(etag(7), "\"7\"");
    }
}
