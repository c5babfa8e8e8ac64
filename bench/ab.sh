#!/usr/bin/env bash
# Two commits side by side: builds the criterion benchmarks (`benches/training.rs`) of each
# commit, then runs the benchmarks matching FILTER from one build and the other in turn, ROUNDS
# times, and prints each run's median. This machine's speed drifts by up to 2× over minutes, so
# only runs next to each other compare.
#
#   bench/ab.sh BEFORE AFTER FILTER [ROUNDS]
#   bench/ab.sh 49a3593~1 49a3593 'train_step_resnet|inference_resnet' 4
#
# The benchmarks of the current checkout are what runs at both commits, so that a commit that
# predates a benchmark can still be measured by it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
    echo "usage: bench/ab.sh BEFORE AFTER FILTER [ROUNDS]" >&2
    exit 1
fi
before=$1 after=$2 filter=$3 rounds=${4:-4}
work=target/ab
mkdir -p "$work"
for commit in "$before" "$after"; do
    git rev-parse --verify --quiet "$commit^{commit}" >/dev/null || {
        echo "error: $commit is not a commit" >&2
        exit 1
    }
done
for name in before after; do
    commit=${!name}
    tree=$work/tree-$name
    rm -rf "$tree"
    git worktree prune
    git worktree add --quiet --detach "$tree" "$commit"
    cp benches/training.rs "$tree/benches/training.rs"
    # One target directory for both, so that the dependencies are built once.
    binary=$(cd "$tree" && CARGO_TARGET_DIR=../target cargo bench --bench training --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\)).*/\1/p')
    cp "$tree/$binary" "$work/training-$name"
    git worktree remove --force "$tree"
    echo "$name: $(git rev-parse --short "$commit") $(git log -1 --format=%s "$commit" | cut -c1-70)"
done
# Results are not saved, so no run is compared with another by criterion itself.
export CRITERION_HOME=$work/criterion
for round in $(seq "$rounds"); do
    for name in before after; do
        "$work/training-$name" --bench "$filter" --warm-up-time 1 --measurement-time 3 --noplot --discard-baseline 2>/dev/null |
            awk -v who="$name" -v round="$round" '
                /time:/ { if ($1 != "time:") id = $1; split($0, parts, "["); split(parts[2], v, " ");
                          printf "round %s %-6s %-40s %s %s\n", round, who, id, v[3], v[4]; next }
                /^[a-z0-9_]+\/[^ ]+$/ { id = $1 }'
    done
done
