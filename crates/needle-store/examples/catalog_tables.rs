//! Where a catalog store's file goes, table by table (BENCHMARKS §9): stored, B-tree and
//! fragmented bytes, in MB. Opens the store, so run it on a stopped server's data
//! directory (a store of an older format is upgraded by the open).
//!
//! `cargo run --release -p needle-store --example catalog_tables -- <data_dir> [--compact]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: catalog_tables <data_dir> [--compact]")?);
    let store = needle_store::CatalogStore::open(&dir)?;
    let mb = |b: u64| b as f64 / 1e6;
    let file = || fs_err::metadata(dir.join("catalog.redb")).map(|m| m.len());
    println!("catalog.redb {:.1} MB", mb(file()?));
    for t in store.table_sizes()? {
        println!(
            "{:<14} stored {:>8.1}  btree {:>7.1}  fragmented {:>7.1}",
            t.name,
            mb(t.stored_bytes),
            mb(t.metadata_bytes),
            mb(t.fragmented_bytes)
        );
    }
    if args.next().as_deref() == Some("--compact") {
        let started = std::time::Instant::now();
        let done = store.compact()?;
        println!(
            "compacted: {done} in {:.1} s; catalog.redb {:.1} MB",
            started.elapsed().as_secs_f64(),
            mb(file()?)
        );
    }
    Ok(())
}
