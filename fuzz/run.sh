#!/usr/bin/env bash
# Build every cargo-fuzz target and run each for N seconds (default 20): fails on the first
# crash, leaving the input in fuzz/artifacts/<target>/ (keep it as a regression: README.md).
#   fuzz/run.sh [seconds] [target...]
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed from crates.io when
# missing). Without nightly it says so and exits 0: the only case it passes without fuzzing.
# Sanitizer: none by default (FUZZ_SANITIZER=address for ASan; see README.md for the cost).
# Build: optimized by default; FUZZ_BUILD=dev builds unoptimized (CI's short run: the
# targets depend on the whole server, and the optimized build of it is most of CI's time).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(record event query filter body token frames)
fi
sanitizer="${FUZZ_SANITIZER:-none}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: SKIPPED — no nightly toolchain (\`cargo +nightly\` fails; cargo-fuzz needs nightly and"
  echo "fuzz: rustup cannot download one here). Install it with \`rustup toolchain install nightly\`."
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is missing; installing it from crates.io (cargo install cargo-fuzz --locked)"
  (unset CARGO_TARGET_DIR; cargo install cargo-fuzz --locked --quiet)
fi

flags=(-s "$sanitizer" --codegen-units 16)
build="${FUZZ_BUILD:-release}"
case "$build" in
  release) ;;
  dev) flags+=(--dev) ;;
  *) echo "fuzz: FUZZ_BUILD must be release or dev, not $build" >&2; exit 2 ;;
esac
echo "== fuzz: building ${#targets[@]} targets ($(cargo +nightly --version), sanitizer $sanitizer, $build build)"
start=$(date +%s)
cargo +nightly fuzz build "${flags[@]}"
echo "fuzz: build took $(( $(date +%s) - start )) s"

failed=()
for t in "${targets[@]}"; do
  corpus="$CARGO_TARGET_DIR/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  dirs=("$corpus" "fuzz/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  log="$CARGO_TARGET_DIR/fuzz-$t.log"
  echo "== fuzz: $t for ${secs}s (corpus $corpus)"
  if ! cargo +nightly fuzz run "${flags[@]}" "$t" "${dirs[@]}" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    grep -E -m 3 -A 3 "panicked at|ERROR: libFuzzer|SUMMARY" "$log" || tail -n 40 "$log"
    echo "fuzz: $t FAILED (log $log); the input is in fuzz/artifacts/$t/"
    echo "fuzz: reproduce with: cargo +nightly fuzz run ${flags[*]} $t fuzz/artifacts/$t/<file>"
    failed+=("$t")
    continue
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ *DONE' "$log" | tr '\n' ' '
  echo "corpus: $(find "$corpus" -type f | wc -l) files"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets crashed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs}s each without a crash"
