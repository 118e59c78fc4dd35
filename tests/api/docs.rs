use std::io::Read;

use serde_json::Value;

use crate::helpers::TestApi;

#[tokio::test]
async fn the_api_serves_the_same_contract_as_openapi_yaml() {
    let api = TestApi::new();

    let response = api.get("/api/openapi.json").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let yaml = std::fs::read_to_string(path).expect("openapi.yaml");
    let written: Value = serde_yaml_ng::from_str(&yaml).expect("openapi.yaml parses");
    assert!(
        served == written,
        "/api/openapi.json differs from openapi.yaml"
    );
}

#[tokio::test]
async fn the_docs_page_loads_only_its_own_assets_which_are_gzipped_and_kept_a_year() {
    let api = TestApi::new();

    let page = api.get("/api/docs").await;

    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html
        .split("\"docs/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(assets.len(), 4, "two scripts and two styles: {html}");

    for asset in assets {
        let path = format!("/api/docs/{asset}");
        let gzipped = api.get_with(&path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gzipped.status(), 200, "{path}");
        assert_eq!(gzipped.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(
            gzipped.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let gzipped = gzipped.bytes().await.unwrap();

        let plain = api
            .get_with(&path, &[("accept-encoding", "identity")])
            .await;
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let plain = plain.bytes().await.unwrap();

        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_end(&mut inflated)
            .expect("gzip");
        assert!(
            inflated == plain,
            "{path}: the gzipped and plain bodies differ"
        );
    }

    let stale = api.get("/api/docs/swagger-ui-bundle.000000000000.js").await;
    assert_eq!(stale.status(), 404);
    assert_eq!(stale.headers()["content-type"], "application/problem+json");
}
