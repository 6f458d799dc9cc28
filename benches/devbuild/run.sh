#!/bin/sh
# Measures heapy in a user's dev build: benches/devbuild/consumer.rs (a serde_json parse of
# 40,000 records, then `hpy().heap()` and its table) built as a crate that depends on this
# checkout, in the dev profile, three ways:
#
#   as-is      heapy at opt-level 0, as cargo builds a dependency in a dev build
#   heapy-o3   with `[profile.dev.package.heapy] opt-level = 3`
#   deps-o3    the same for heapy and the crates it symbolizes with (backtrace, addr2line,
#              gimli, object, miniz_oxide, adler2, memchr, rustc-demangle)
#
# Each binary runs with the default census (HEAPY_STACKS unset) and with HEAPY_STACKS=off,
# alternately, REPS rounds; the script prints the medians and the ratios stacks on / off.
#
#   benches/devbuild/run.sh [REPS] [RECORDS]      (defaults: 5 rounds, 40000 records)
#
# The crate and its three target directories go to $HEAPY_DEVBUILD_DIR (default
# ${TMPDIR:-/tmp}/heapy-devbuild). Built with frame pointers and v0 symbols, as the README
# asks; set RUSTFLAGS to try other flags.
set -eu
reps=${1:-5}
records=${2:-40000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${HEAPY_DEVBUILD_DIR:-${TMPDIR:-/tmp}/heapy-devbuild}
export RUSTFLAGS="${RUSTFLAGS:--C force-frame-pointers=yes -C symbol-mangling-version=v0}"

mkdir -p "$dir/src"
cp "$here/consumer.rs" "$dir/src/main.rs"
[ -f "$dir/Cargo.lock" ] || cp "$repo/Cargo.lock" "$dir/Cargo.lock"
cat > "$dir/Cargo.toml" <<EOF
[package]
name = "heapy-devbuild"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
heapy = { path = "$repo" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[workspace]
EOF

o3() {
    for p in "$@"; do printf ' --config profile.dev.package.%s.opt-level=3' "$p"; done
}
build() {
    name=$1
    shift
    echo "building $name" >&2
    # shellcheck disable=SC2046,SC2086
    cargo build --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$dir/$name" "$@"
}
build as-is
# shellcheck disable=SC2046
build heapy-o3 $(o3 heapy)
# shellcheck disable=SC2046
build deps-o3 $(o3 heapy backtrace addr2line gimli object miniz_oxide adler2 memchr rustc-demangle)

out="$dir/results.txt"
: > "$out"
i=0
while [ "$i" -lt "$reps" ]; do
    for b in as-is heapy-o3 deps-o3; do
        for s in auto off; do
            line=$(HEAPY_STACKS=$s "$dir/$b/debug/heapy-devbuild" "$records" 2>/dev/null)
            echo "$b $s $line" >> "$out"
        done
    done
    i=$((i + 1))
done

echo "dev profile, $records records, $reps rounds, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "medians in seconds; stacks on (default census) / HEAPY_STACKS=off = ratio"
for b in as-is heapy-o3 deps-o3; do
    printf '%-9s' "$b"
    for col in value typed heap table again; do
        on=$(awk -v b="$b" -v c="$col" '$1 == b && $2 == "auto" { for (i = 3; i < NF; i++) if ($i == c) print $(i + 1) }' "$out" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        off=$(awk -v b="$b" -v c="$col" '$1 == b && $2 == "off" { for (i = 3; i < NF; i++) if ($i == c) print $(i + 1) }' "$out" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        printf '  %s %.3f / %.3f = %.2fx' "$col" "$on" "$off" "$(echo "$on $off" | awk '{ print $1 / $2 }')"
    done
    echo
done
echo "raw figures: $out"
