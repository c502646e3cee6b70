//! Observability routes: the middleware that records every request in the router's
//! [`Metrics`](crate::metrics::Metrics), and the Prometheus scrape endpoint.

use crate::metrics::{STATS_TIMEOUT, UNMATCHED_ROUTE};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// Middleware recording every request under its matched route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str())
        .filter(|p| !p.contains("__private__"))
        .unwrap_or(UNMATCHED_ROUTE)
        .to_string();
    let response = next.run(req).await;
    let route = if response.extensions().get::<super::Unmatched>().is_some() {
        UNMATCHED_ROUTE
    } else {
        &route
    };
    state
        .metrics()
        .record_request(method.as_str(), route, response.status().as_u16(), start.elapsed());
    response
}

/// Prometheus scrape endpoint.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let (applied, log_seq, applied_entries) = state.service().log_position();
    state.metrics().set_log(applied, log_seq, applied_entries);
    let stats = tokio::time::timeout(
        STATS_TIMEOUT,
        state.blocking(|engine| Ok((engine.stats()?, engine.listeners()))),
    )
    .await;
    match stats {
        Ok(Ok((stats, listeners))) => {
            state.metrics().set_catalog(Some(&stats));
            state.metrics().set_listeners(listeners);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "stats unavailable for metrics");
            state.metrics().set_catalog(None);
        }
        Err(_) => {
            tracing::warn!("stats timed out for metrics");
            state.metrics().set_catalog(None);
        }
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics().render(),
    )
        .into_response()
}
