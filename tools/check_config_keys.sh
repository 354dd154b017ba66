#!/bin/bash
# tools/check_config_keys.sh [ROOT]: every config key does something (issue 10, case 9).
#
# For each key of the schema in core/config.c (g_keys: NUM/STR/PATH/ENUM/CHOICE/LIST entries, and
# the phase keys: PNUM and the elastic flags) it takes the struct field the key is read into
# (teacher.epochs, supernet.depth, ...) and looks for a read of that field, `.field` or `->field`,
# in the C sources outside core/config.c and tests/.  A key whose field nothing reads does nothing
# that docs/config.md can promise: exit 1 and one line per such key.  (Listing a key's name in a
# table, as the fingerprints do, is not a read.)  Prints "config keys: N keys, all read" on success.
set -u
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || exit 2

srcs=$(find core nn datasets supernet models trainers coordinator evaluator cli -name '*.[ch]' ! -path core/config.c | sort)
[ -n "$srcs" ] || { echo "check_config_keys: no sources under $ROOT"; exit 2; }

# "key field" pairs from the schema tables
pairs=$(sed -n '/^static const key_def g_keys\[\] = {/,/^};/p; /^static const key_def g_phase_keys\[\] = {/,/^};/p' core/config.c |
    tr '\n' ' ' | sed 's/  */ /g' |
    grep -oE '(NUM|STR|PATH|ENUM|CHOICE|LIST|PNUM)\("[^"]+", *(KT_[A-Z0-9_]+, *)?[a-z_][a-z_0-9.]*|\{"[^"]+", *KT_FLAGS, *offsetof\(ofa_phase, *[a-z_0-9]+\)' |
    sed -E 's/^(NUM|STR|PATH|ENUM|CHOICE|LIST|PNUM)\("([^"]+)", *(KT_[A-Z0-9_]+, *)?([a-z_0-9.]+)$/\2 \4/;
            s/^\{"([^"]+)", *KT_FLAGS, *offsetof\(ofa_phase, *([a-z_0-9]+)\)$/\1 \2/')
n=0
bad=0
while read -r key field; do
    [ -n "$key" ] || continue
    n=$((n + 1))
    re="(\\.|->)${field//./\\.}([^a-zA-Z0-9_]|\$)"
    # shellcheck disable=SC2086
    if ! grep -qE "$re" $srcs; then
        echo "config key '$key' (field $field) is never read outside core/config.c: make it do what docs/config.md says, or remove it"
        bad=$((bad + 1))
    fi
done <<<"$pairs"
[ "$n" -ge 40 ] || { echo "check_config_keys: found only $n schema keys in core/config.c (the table's form changed?)"; exit 2; }
[ "$bad" -eq 0 ] || exit 1
echo "config keys: $n keys, all read"
