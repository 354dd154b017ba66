#!/bin/bash
# tools/lint_layers.sh [ROOT]: the layering of ofa's C sources (docs/architecture.md, "Layers").
#
#   layer 5  cli/                                       (commands, and the MPI job with its run plan: job)
#   layer 4  trainers/ evaluator/                       (the stages the ranks run)
#   layer 3  coordinator/                               (rank 0's services the stages call: checkpoints,
#                                                        provenance, replicas, the work queue, announcements)
#   layer 2  models/ supernet/                          (model families behind models/family.h, and
#                                                        family-independent supernet mechanics)
#   layer 1  nn/ datasets/
#   layer 0  core/
#
# Checks, over every #include "..." of every .c/.h outside tests/ (exit 1 and one line per breach):
#   1. no file includes a header of a higher layer;
#   2. the stages and their services (layers 3 to 5) reach a model family only through the interface: no include of
#      a family's own folder models/<family>/;
#   3. a family's files (models/<family>/) include models/family.h, never models/registry.h or
#      models/checkpoint.h (the generic layer above them);
#   4. no two modules include each other (a.c includes b.h while b.c includes a.h).
# Prints "layers: N files, M includes, ok" on success.
set -u
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || exit 2

layer_of() {
    case $1 in
    cli/*) echo 5 ;;
    trainers/* | evaluator/*) echo 4 ;;
    coordinator/*) echo 3 ;;
    models/* | supernet/*) echo 2 ;;
    nn/* | datasets/*) echo 1 ;;
    core/*) echo 0 ;;
    *) echo -1 ;;
    esac
}

fail=0 nfiles=0 nincl=0
declare -A uses # "a b" -> 1 when module a includes b.h (modules: paths without extension)
while IFS= read -r f; do
    nfiles=$((nfiles + 1))
    lf=$(layer_of "$f")
    [ "$lf" -ge 0 ] || continue
    while IFS= read -r inc; do
        nincl=$((nincl + 1))
        li=$(layer_of "$inc")
        [ "$li" -ge 0 ] || continue
        if [ "$li" -gt "$lf" ]; then
            echo "$f: includes $inc, a higher layer ($li > $lf)"
            fail=1
        fi
        if [ "$lf" -ge 3 ] && [[ $inc == models/*/* ]]; then
            echo "$f: includes $inc: a stage reaches a model family only through models/registry.h"
            fail=1
        fi
        if [[ $f == models/*/* ]] && [[ $inc == models/registry.h || $inc == models/checkpoint.h ]]; then
            echo "$f: includes $inc: a family's files use models/family.h only"
            fail=1
        fi
        a=${f%.*} b=${inc%.*}
        [ "$a" != "$b" ] && uses["$a $b"]=1
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find core nn datasets models supernet trainers evaluator coordinator cli -name '*.[ch]' 2>/dev/null | sort)

for key in "${!uses[@]}"; do
    a=${key% *} b=${key#* }
    if [[ $a < $b ]] && [ -n "${uses["$b $a"]:-}" ]; then
        echo "$a and $b include each other"
        fail=1
    fi
done

if [ $fail -ne 0 ]; then
    echo "layers: breaches found (docs/architecture.md, \"Layers\")"
    exit 1
fi
echo "layers: $nfiles files, $nincl includes, ok"
