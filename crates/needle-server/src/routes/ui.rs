//! The search page at `/`: three static files compiled into the binary (no build step).

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::IntoResponse;

const INDEX: &str = include_str!("../../../../ui/index.html");
const APP: &str = include_str!("../../../../ui/app.js");
const STYLE: &str = include_str!("../../../../ui/style.css");
const CSP: &str = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// `GET /`
pub async fn index() -> impl IntoResponse {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /ui/app.js`
pub async fn app_js() -> impl IntoResponse {
    page("text/javascript; charset=utf-8", APP)
}

/// `GET /ui/style.css`
pub async fn style_css() -> impl IntoResponse {
    page("text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_references_its_assets() {
        assert!(super::INDEX.contains("/ui/app.js") && super::INDEX.contains("/ui/style.css"));
    }
}
