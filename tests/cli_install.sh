#!/usr/bin/env bash
# `cmake --install` puts cltrain in <prefix>/bin and fetch-mnist.sh in <prefix>/share/cltrain/tools;
# the installed binary finds the script from its own path and runs it without a shell (argv,
# real exit status), so quotes and spaces in the prefix or the data folder are harmless. The
# installed script is replaced by a stand-in here: tests never download.
. "$(dirname "$0")/common.sh"
build=$(cd "$(dirname "$exe")" && pwd)

prefix="$work/it's a \"prefix\""
if cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1; then ok "cmake --install"; else bad "cmake --install"; cat "$work/install.log"; fi
bin="$prefix/bin/cltrain"
tool="$prefix/share/cltrain/tools/fetch-mnist.sh"
[ -x "$bin" ] && ok "binary in <prefix>/bin" || bad "no $bin"
[ -f "$tool" ] && cmp -s "$tool" "$here/../tools/fetch-mnist.sh" && ok "fetch-mnist.sh in <prefix>/share/cltrain/tools" ||
  bad "no $tool"

# a failing fetch: its exit status (7) is reported, and it got the data folder as one argument
cat > "$tool" <<EOF
printf '%s\n' "\$#" "\$@" > "$work/args"
exit 7
EOF
data="$work/it's my data; \$(touch $work/injected)"
"$bin" train --data "$data" -q > "$work/out" 2> "$work/err"; rc=$?
[ $rc -eq 3 ] && grep -q "failed (exit 7)" "$work/err" && ok "exit status 7 reported (rc $rc)" || { bad "rc $rc"; cat "$work/err"; }
grep -qF "run 'bash $tool " "$work/err" && ok "the installed script was used" || { bad "script"; cat "$work/err"; }
printf '1\n%s\n' "$data" | cmp -s - "$work/args" && ok "one argument, the exact folder name" || { bad "args"; cat "$work/args"; }
[ ! -e "$work/injected" ] && ok "no shell parsed the folder name" || bad "a shell ran the folder name"

# a fetch that dies from a signal is reported as such
printf 'kill -TERM $$\n' > "$tool"
"$bin" train --data "$work/other" -q > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 3 ] && grep -q "killed by signal 15" "$work/err" && ok "signal reported" || { bad "rc $rc"; cat "$work/err"; }

# a fetch that works: training goes on with the fetched files (the test fixture subset)
cat > "$tool" <<EOF
mkdir -p "\$1" && cp "$here/fixtures/mnist-small/"*.gz "\$1/"
echo "stand-in fetch done" # stdout goes to stderr: --json keeps stdout to itself
EOF
"$bin" train --data "$data" --subset 256 --set training.epochs=1 --set output.model_save_dir="$work/models" \
  --set output.runs_dir="$work/runs" -q --json > "$work/out" 2> "$work/err"; rc=$?
[ $rc -eq 0 ] && ok "train after the fetch" || { bad "train rc $rc"; cat "$work/err"; }
grep -q "stand-in fetch done" "$work/err" && ! grep -q "stand-in" "$work/out" && ok "the script's stdout went to stderr" ||
  bad "script output"
tail -n 1 "$work/out" | grep -q '"model_path"' && ok "--json result" || bad "no JSON result"
finish
