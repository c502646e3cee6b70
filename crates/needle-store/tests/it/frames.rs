//! The frame scan over corrupt lengths (found by the `frames` fuzz target: a length field
//! of up to 4 GiB made every open allocate and zero that much before noticing the file is
//! short).

use needle_store::frames::scan;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest request made by a thread that is measuring.
pub struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    if MEASURING.with(Cell::get) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `System` unchanged; only sizes are recorded.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_corrupt_length_costs_what_the_file_holds() {
    let mut file = frame(b"#12345678 good");
    let good = file.len() as u64;
    // A header claiming 4 GiB (a flipped length), then a few bytes.
    file.extend_from_slice(&u32::MAX.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&[7; 16]);
    let mut shown = Vec::new();
    MEASURING.with(|m| m.set(true));
    let scanned = scan(&mut &file[..], |p| {
        shown.push(p.to_vec());
        Ok(())
    });
    MEASURING.with(|m| m.set(false));
    assert_eq!(scanned.unwrap(), (good, true));
    assert_eq!(shown, vec![b"#12345678 good".to_vec()]);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < 4 << 20, "the scan asked for {largest} bytes at once");
}

#[test]
fn the_scan_stops_at_the_first_bad_frame() {
    let mut file = frame(b"one");
    let good = file.len() as u64;
    let mut bad = frame(b"two");
    bad[9] ^= 1;
    file.extend_from_slice(&bad);
    file.extend_from_slice(&frame(b"three"));
    let mut shown = Vec::new();
    let scanned = scan(&mut &file[..], |p| {
        shown.push(p.to_vec());
        Ok(())
    });
    assert_eq!(scanned.unwrap(), (good, true));
    assert_eq!(shown, vec![b"one".to_vec()]);
}
