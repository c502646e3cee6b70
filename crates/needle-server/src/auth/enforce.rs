//! The middleware: authentication, scopes and limits on every request.

use super::*;

/// Access control and limits of one router.
#[derive(Debug)]
pub struct Guard {
    access: Arc<Access>,
    rate: RateLimiter,
    gate: Gate,
    /// What token expiry and rate-limit refills read the time from.
    clock: Arc<dyn Clock>,
}

impl Guard {
    /// The guard for `config`, on the system clock. Never fails: keys that cannot be
    /// loaded (the file vanished after validation) lock every protected route, with the
    /// cause logged.
    pub fn from_config(config: &Config) -> Guard {
        Guard::with_clock(config, needle_core::time::system())
    }

    /// The guard for `config`, reading the time from `clock` (tests pass a
    /// [`needle_core::time::ManualClock`]).
    pub fn with_clock(config: &Config, clock: Arc<dyn Clock>) -> Guard {
        let access = match Access::from_config(&config.auth) {
            Ok(access) => access,
            Err(problem) => {
                tracing::error!(problem, "cannot load API keys; every protected route answers 500");
                Access::locked()
            }
        };
        Guard {
            access: Arc::new(access),
            rate: RateLimiter::new(&config.rate_limit),
            gate: Gate::new(&config.concurrency),
            clock,
        }
    }

    /// Share the rate-limit buckets with every replica through `shared` (from
    /// [`needle_service::Service::shared_rate`]; `None` keeps them local).
    pub fn with_shared_rate(mut self, shared: Option<Arc<needle_service::shared::SharedRate>>) -> Guard {
        self.rate = self.rate.with_shared(shared);
        self
    }

    /// The keys and token signer.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }
}

/// Middleware: classify the request, identify the caller, check the scope, take from the
/// caller's rate bucket and, for expensive requests, a concurrency slot held until the
/// handler answers. Health, metrics, OpenAPI and the page pass untouched.
pub async fn enforce(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let class = classify(req.method(), req.uri().path());
    if class.rule == Rule::Open {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let principal = match guard.access.authenticate(req.headers(), guard.clock.now_ms()) {
        Ok(p) => p,
        Err(refusal) => {
            // Failed attempts count against the client's IP: guessing keys is slow.
            if let Err(wait) = guard.rate.take(&RateKey::Ip(ip), guard.clock.instant()).await {
                return rate_limited(wait);
            }
            return refusal.into_response();
        }
    };
    if let Err(e) = guard
        .access
        .authorize(&principal, &class, req.method(), req.uri().path())
    {
        return e.into_response();
    }
    let rate_key = match &principal {
        Principal::Open => RateKey::Ip(ip),
        Principal::Key { name, .. } => RateKey::Key(Arc::clone(name)),
        Principal::Listener(claims) => RateKey::Listener(claims.user_id.clone()),
    };
    if let Err(wait) = guard.rate.take(&rate_key, guard.clock.instant()).await {
        return rate_limited(wait);
    }
    let _slot = if class.expensive {
        match guard.gate.enter().await {
            Ok(permit) => Some(permit),
            Err(_) => return overloaded(),
        }
    } else {
        None
    };
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(Arc::clone(&guard.access));
    next.run(req).await
}

/// Check the address actually bound against the keys, and say how the server is
/// protected: no keys on a non-loopback address without `allow_open` is refused.
pub fn startup_check(config: &Config, local: SocketAddr) -> Result<(), String> {
    let keys = config.auth.all_keys()?;
    if keys.is_empty() {
        if is_loopback(local.ip()) {
            tracing::warn!(
                addr = %local,
                "no API key configured: Needle runs OPEN (no authentication) on loopback {local} only; \
                 configure auth.keys or auth.keys_file before exposing it"
            );
        } else if config.auth.allow_open {
            tracing::warn!(
                addr = %local,
                "no API key configured and auth.allow_open is set: Needle is OPEN to anyone who can reach {local}"
            );
        } else {
            return Err(open_refusal(&local.to_string()));
        }
    } else {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        tracing::info!(keys = keys.len(), names = %names.join(","), "access control on: API keys required");
    }
    if config.auth.token_secret.is_none() {
        tracing::info!("listener tokens off (no auth.token_secret)");
    }
    Ok(())
}
