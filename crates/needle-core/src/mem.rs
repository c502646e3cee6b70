//! Giving freed memory back to the operating system after a large, short-lived peak.
//!
//! Loading or training a recommendation model allocates hundreds of megabytes that are
//! freed when it ends (the model file's header and vectors as read, the vector index's
//! build buffers). Allocators keep freed pages for reuse (mimalloc purges them only after
//! a delay and only on the thread that owns them; glibc keeps the top of its heaps), so a
//! serving process would keep its peak as resident memory. The binary, which picks the
//! allocator, registers how to release; library crates call [`release_free_memory`] after
//! such a peak. Without a registered hook it does nothing (tests, embedders).

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Register how to give freed memory back (first registration wins).
pub fn set_release_hook(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// Give freed memory back to the operating system, if the binary said how. Costs a walk
/// of the allocator's free pages (milliseconds): call it after a large peak, not per request.
pub fn release_free_memory() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn the_registered_hook_runs_and_the_first_registration_wins() {
        release_free_memory(); // nothing registered: nothing happens
        set_release_hook(|| {
            CALLS.fetch_add(1, Ordering::SeqCst);
        });
        set_release_hook(|| panic!("a second registration is ignored"));
        release_free_memory();
        release_free_memory();
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
