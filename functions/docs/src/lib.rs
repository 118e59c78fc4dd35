//! The API's contract and its docs page, built into the function (`build.rs`):
//! - `GET /api/openapi.json`: the same document as `openapi.yaml`, as JSON, for client generators
//!   and docs tools that ask the running API for it;
//! - `GET /api/docs`: an interactive page (Swagger UI, from the npm package `swagger-ui-dist`)
//!   that lists every operation and can call them;
//! - `GET /api/docs/{asset}`: the page's scripts and styles, named by a hash of their content.
//!
//! Nothing is fetched from elsewhere at run time, and the page's Content-Security-Policy lets it
//! load only this function's assets and call only this API.

use std::io::Read;

use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::error::ApiError;
use shared::http::{ApiResult, JSON};

pub use shared::state::Bare as State;

/// `openapi.yaml` as JSON.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The docs page, naming its assets by their versioned names.
pub const PAGE: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));

/// One of the page's scripts or styles, gzipped when the function was built.
pub struct Asset {
    /// The name in the URL: the file's stem, a hash of its content and its extension.
    pub name: &'static str,
    pub content_type: &'static str,
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The contract changes only with a deployment: a client may keep it five minutes.
const CONTRACT_CACHE: &str = "public, max-age=300";
/// The page names the assets of this deployment: a browser asks again each time it shows it.
const PAGE_CACHE: &str = "no-cache";
/// An asset's name changes with its content: a browser may keep it for a year unasked.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// The page runs only its own scripts and styles from this function and calls only this API:
/// no inline script, no other origin, no frames, no forms posted elsewhere.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub async fn handle(_state: &State, request: Request) -> ApiResult {
    if let Some(name) = request.path_parameters().first("asset") {
        return asset(name, accepts_gzip(&request));
    }
    if request.uri().path().ends_with("/docs") {
        return Ok(page());
    }
    Ok(respond(
        Body::Text(OPENAPI_JSON.to_owned()),
        JSON,
        CONTRACT_CACHE,
    ))
}

/// A 200 with `body` of `content_type`, cached as `cache` says.
fn respond(body: Body, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// The docs page, under its Content-Security-Policy.
fn page() -> Response<Body> {
    let mut response = respond(
        Body::Text(PAGE.to_owned()),
        "text/html; charset=utf-8",
        PAGE_CACHE,
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The asset of that name: gzipped as built when the client takes gzip, else inflated here.
fn asset(name: &str, gzip: bool) -> ApiResult {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or(ApiError::NotFound)?;
    let body = if gzip {
        asset.gzip.to_vec()
    } else {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(asset.gzip)
            .read_to_end(&mut plain)
            .map_err(ApiError::internal)?;
        plain
    };
    let mut response = respond(Body::Binary(body), asset.content_type, ASSET_CACHE);
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// Whether `Accept-Encoding` takes gzip: `gzip` or `*` listed without `q=0`.
fn accepts_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;
    use serde_json::Value;
    use shared::testing::{TestRequest, body_json, content_type};

    fn header(response: &Response<Body>, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn serves_the_contract_as_json_that_clients_may_cache_briefly() {
        let response = handle(&State, TestRequest::get("/api/openapi.json").build())
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), JSON);
        assert_eq!(header(&response, header::CACHE_CONTROL), CONTRACT_CACHE);
        let document = body_json(&response);
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3."))
        );
        let paths = document["paths"].as_object().expect("paths");
        for path in ["/api/openapi.json", "/api/docs", "/api/docs/{asset}"] {
            assert!(paths.contains_key(path), "the contract lists {path}");
        }
        // Response codes are object keys, as in the YAML, not numbers.
        let health = &document["paths"]["/api/health"]["get"]["responses"];
        assert!(health.get("200").is_some_and(Value::is_object), "{health}");
    }

    #[tokio::test]
    async fn the_page_names_every_asset_and_allows_nothing_from_elsewhere() {
        let response = handle(&State, TestRequest::get("/api/docs").build())
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), "text/html; charset=utf-8");
        assert_eq!(header(&response, header::CACHE_CONTROL), PAGE_CACHE);
        assert_eq!(
            header(&response, header::CONTENT_SECURITY_POLICY),
            PAGE_POLICY
        );
        let Body::Text(page) = response.body() else {
            panic!("the page is text")
        };
        for asset in ASSETS {
            assert!(
                page.contains(&format!("\"docs/{}\"", asset.name)),
                "{}",
                asset.name
            );
        }
        assert!(!page.contains("{{"), "every placeholder is filled");
        assert!(!page.contains("http"), "no asset from another origin");
        assert!(
            !page.contains("<script>"),
            "no inline script: the policy would refuse it"
        );
    }

    async fn get_asset(name: &str, accept_encoding: Option<&str>) -> Response<Body> {
        let mut request =
            TestRequest::get(&format!("/api/docs/{name}")).path_parameter("asset", name);
        if let Some(value) = accept_encoding {
            request = request.header("accept-encoding", value);
        }
        handle(&State, request.build())
            .await
            .unwrap_or_else(ApiError::into_response)
    }

    #[tokio::test]
    async fn assets_are_gzipped_for_clients_that_take_it_and_kept_a_year() {
        let bundle = ASSETS
            .iter()
            .find(|a| a.name.starts_with("swagger-ui-bundle."))
            .expect("the bundle");
        let response = get_asset(bundle.name, Some("br, gzip;q=0.8")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_ENCODING), "gzip");
        assert_eq!(header(&response, header::CACHE_CONTROL), ASSET_CACHE);
        assert_eq!(header(&response, header::VARY), "Accept-Encoding");
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(response.body().as_ref(), bundle.gzip);

        for refused in [None, Some("identity"), Some("gzip;q=0, br")] {
            let response = get_asset(bundle.name, refused).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                header(&response, header::CONTENT_ENCODING),
                "",
                "{refused:?}"
            );
            let plain = response.body().as_ref();
            assert!(plain.len() > bundle.gzip.len() * 2, "{refused:?}");
            assert!(
                std::str::from_utf8(plain).is_ok_and(|s| s.contains("SwaggerUIBundle")),
                "{refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_or_stale_asset_is_a_404_problem() {
        for name in [
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.000000000000.js",
            "..%2Fmain.rs",
        ] {
            let response = get_asset(name, Some("gzip")).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
            assert_eq!(content_type(&response), "application/problem+json");
        }
    }
}
