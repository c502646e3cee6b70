//! The middleware: authentication, scopes and limits on every request.

use super::*;

/// Access control and limits of one router.
pub struct Guard {
    keys: Arc<KeyRing>,
    rate: RateLimiter,
    gate: Gate,
    /// Admitted expensive requests computing now (`concurrency.max_running`; taken in
    /// [`run_in_turn`]).
    running: Arc<tokio::sync::Semaphore>,
    /// Batch writes in flight.
    writes: Gate,
    /// What token expiry and rate-limit refills read the time from.
    clock: Arc<dyn Clock>,
    /// Where revoked listener tokens are looked up (`None`: none is).
    revocations: Option<Arc<needle_service::Service>>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("keys", &self.keys)
            .field("rate", &self.rate)
            .field("gate", &self.gate)
            .field("running", &self.running.available_permits())
            .field("writes", &self.writes)
            .field("revocations", &self.revocations.is_some())
            .finish()
    }
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
        Guard::with_keys(Arc::new(KeyRing::new(&config.auth)), config, clock)
    }

    /// The guard for `config` with the (reloadable) keys `keys`.
    pub fn with_keys(keys: Arc<KeyRing>, config: &Config, clock: Arc<dyn Clock>) -> Guard {
        Guard {
            keys,
            rate: RateLimiter::new(&config.rate_limit),
            gate: Gate::new(&config.concurrency),
            running: Arc::new(tokio::sync::Semaphore::new(
                config.concurrency.running().min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            writes: Gate::for_writes(&config.concurrency),
            clock,
            revocations: None,
        }
    }

    /// Share the rate-limit buckets with every replica through `shared` (from
    /// [`needle_service::Service::shared_rate`]; `None` keeps them local).
    pub fn with_shared_rate(mut self, shared: Option<Arc<needle_service::shared::SharedRate>>) -> Guard {
        self.rate = self.rate.with_shared(shared);
        self
    }

    /// Refuse listener tokens that `service` has on record as revoked.
    pub fn with_revocations(mut self, service: Arc<needle_service::Service>) -> Guard {
        self.revocations = Some(service);
        self
    }

    /// The keys and token signer in use.
    pub fn access(&self) -> Arc<Access> {
        self.keys.current()
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
    // The keys of this request, whatever a reload swaps in meanwhile.
    let access = guard.keys.current();
    let authenticated = access.authenticate(req.headers(), guard.clock.now_ms()).and_then(|p| {
        let refused = match (&p, &guard.revocations) {
            (Principal::Listener(claims), Some(service)) => service
                .tokens_not_before(&claims.user_id)
                .and_then(|nb| revoked(claims, nb)),
            _ => None,
        };
        refused.map_or(Ok(p), Err)
    });
    let principal = match authenticated {
        Ok(p) => p,
        Err(refusal) => {
            // Failed attempts count against the client's IP: guessing keys is slow.
            if let Err(wait) = guard.rate.take(&RateKey::Ip(ip), guard.clock.instant()).await {
                return rate_limited(wait);
            }
            return refusal.into_response();
        }
    };
    if let Err(e) = access.authorize(&principal, &class, req.method(), req.uri().path()) {
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
        let admitted = match guard.gate.enter().await {
            Ok(permit) => permit,
            Err(_) => return overloaded(),
        };
        req.extensions_mut().insert(Turns(Arc::clone(&guard.running)));
        Some(admitted)
    } else if class.batch_write {
        // Taken before the body is read: a write waiting here holds no body yet.
        match guard.writes.enter().await {
            Ok(permit) => Some(permit),
            Err(_) => return overloaded_writes(),
        }
    } else {
        None
    };
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(access);
    next.run(req).await
}

/// The turns of admitted expensive requests (`concurrency.max_running`), put on each such
/// request by [`enforce`] and taken by [`run_in_turn`].
#[derive(Clone)]
pub struct Turns(Arc<tokio::sync::Semaphore>);

/// Middleware, inside the `min_seq` wait: an admitted expensive request waits here, in
/// order, for one of the `max_running` turns and holds it until it answers. Inside, so a
/// request waiting for its replica to catch up holds no turn.
pub async fn run_in_turn(req: Request, next: Next) -> Response {
    // Never closed: acquiring only waits for a running request to end.
    let _turn = match req.extensions().get::<Turns>() {
        Some(Turns(t)) => Arc::clone(t).acquire_owned().await.ok(),
        None => None,
    };
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
