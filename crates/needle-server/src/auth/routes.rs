//! Route classification by method and path: who may make a request.

use super::*;

/// Who may make a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, without a key (health, metrics, OpenAPI, the page).
    Open,
    /// A key with this scope (or `admin`).
    Scope(Scope),
    /// A key with this scope, or a token of this listener (`None`: an undecodable id,
    /// which no token matches).
    ScopeOrListener(Scope, Option<String>),
    /// A key with this scope, or any listener token (session steps: a session id is only
    /// known to the listener who started it).
    ScopeOrAnyListener(Scope),
}

/// How a request is treated: who may make it, and whether it takes a concurrency slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteClass {
    /// Who may make it.
    pub rule: Rule,
    /// Whether it is expensive (search, recommendations, similar items, sessions,
    /// training) and so bounded by `[concurrency]`.
    pub expensive: bool,
    /// Whether it is a batch write (`POST /v1/catalog`, `POST /v1/events`), bounded by
    /// `concurrency.max_writes_in_flight`.
    pub batch_write: bool,
}

impl RouteClass {
    fn new(rule: Rule, expensive: bool) -> RouteClass {
        RouteClass {
            rule,
            expensive,
            batch_write: false,
        }
    }

    fn batch_write(rule: Rule) -> RouteClass {
        RouteClass {
            rule,
            expensive: false,
            batch_write: true,
        }
    }

    /// The scope a key needs (`None` for open routes).
    pub fn scope(&self) -> Option<Scope> {
        match &self.rule {
            Rule::Open => None,
            Rule::Scope(s) | Rule::ScopeOrListener(s, _) | Rule::ScopeOrAnyListener(s) => Some(*s),
        }
    }

    /// Whether a listener token may make it (for some listener).
    pub fn listener_token_ok(&self) -> bool {
        matches!(self.rule, Rule::ScopeOrListener(..) | Rule::ScopeOrAnyListener(_))
    }
}

/// Classify a request by method and raw path. Unknown paths need `admin` (they answer
/// `404` to an admin key), so a route added without a rule here is never open.
pub fn classify(method: &Method, path: &str) -> RouteClass {
    let read = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let open = RouteClass::new(Rule::Open, false);
    let admin = RouteClass::new(Rule::Scope(Scope::Admin), false);
    let search = |expensive| RouteClass::new(Rule::Scope(Scope::Search), expensive);
    let listener =
        |id: &str, expensive| RouteClass::new(Rule::ScopeOrListener(Scope::Search, percent_decode(id)), expensive);
    match segments.as_slice() {
        [""] | ["metrics"] | ["openapi.json"] | ["health", ..] | ["ui", ..] => open,
        ["v1", rest @ ..] => match rest {
            ["search"] if read => search(true),
            ["stats"] if read => search(false),
            ["catalog", _] if read => search(false),
            ["events"] if post => RouteClass::batch_write(Rule::Scope(Scope::Ingest)),
            ["catalog"] if post => RouteClass::batch_write(Rule::Scope(Scope::Admin)),
            ["users", id, "profile" | "history"] if read => listener(id, false),
            ["users", id, "recommendations"] if read => listener(id, true),
            ["users", id, "sessions"] if post => listener(id, true),
            ["sessions", _, "next"] if read => RouteClass::new(Rule::ScopeOrAnyListener(Scope::Search), true),
            ["items", _, "similar"] if read => search(true),
            ["recommendations", "continue"] if post => search(true),
            ["admin", "train" | "training", ..] if post => RouteClass::new(Rule::Scope(Scope::Admin), true),
            // Revoking a listener's tokens is the backend's call, never the listener's.
            ["users", _, "tokens", "revoke"] if post => admin,
            // Search analytics name queries listeners typed: the catalog owner's only.
            ["analytics", ..] if read => RouteClass::new(Rule::Scope(Scope::Admin), true),
            // Completions while typing: cheap, the search scope.
            ["suggest"] if read => search(false),
            // Curation settings (synonyms, rules), read and written.
            ["settings", "synonyms" | "rules"] => admin,
            // Catalog writes, /v1/admin/*, DELETE /v1/users/{id}, and anything unknown.
            _ => admin,
        },
        _ => admin,
    }
}

/// A path segment percent-decoded as axum's `Path` does; `None` when not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
