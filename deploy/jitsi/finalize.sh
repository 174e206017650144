#!/bin/sh
# client360: Jibri's finalize script (jibri.conf: jibri.recording.finalize-script, installed as
# /usr/local/bin/client360-finalize.sh: see README.md here).
#
# Jibri runs it as its own user when a recording stops, with the session folder as the only argument, after ffmpeg
# has finished the media file <room>_<yyyy-MM-dd-HH-mm-ss>.mp4 and after it tried to write metadata.json (see
# jitsi/jibri src/main/kotlin/org/jitsi/jibri/service/impl/FileRecordingJibriService.kt, stop()). Jibri waits for
# the script, so it stays short.
#
# client360 takes a session folder once metadata.json is in it, so metadata.json is the "ready" mark:
#   1. the folder must hold a non-empty recording file, else exit 3 and touch nothing;
#   2. folder and files are made readable by everyone (client360 reads them over a read-only NFS mount);
#   3. if metadata.json is missing or empty (Jibri could not write it), a minimal one is written to a temporary
#      file and renamed into place, so no one ever reads half of it; a metadata.json from Jibri is never changed;
#   4. only with a destination folder (second argument, or C360_RECORDINGS_DEST): the session folder is copied
#      there under a hidden name, renamed into place in one step and only then deleted here. Without one, the
#      recordings folder itself is what client360 reads.
# Running it again on the same folder changes nothing and exits 0.
# Exit codes: 0 done; 2 bad argument or folder; 3 no recording file in the folder; 1 anything else.

set -u

say() { printf 'client360 finalize: %s\n' "$*" >&2; }
die() { code=$1; shift; say "$*"; exit "$code"; }

if [ $# -lt 1 ] || [ -z "$1" ]; then die 2 "usage: finalize.sh <Jibri session folder> [destination folder]"; fi
src=${1%/}
dest=${2:-${C360_RECORDINGS_DEST:-}}
dest=${dest%/}
name=${src##*/}
case "$name" in ''|.|..) die 2 "bad session folder: '$1'" ;; esac

has_media() {
    for f in "$1"/*; do
        if [ ! -f "$f" ] || [ ! -s "$f" ]; then continue; fi
        ext=$(printf '%s' "${f##*.}" | tr '[:upper:]' '[:lower:]')
        case "$ext" in
            mp4|webm|mkv|mov|m4a|mp3|ogg|opus|oga|wav|flac|aac) return 0 ;;
        esac
    done
    return 1
}

make_readable() {
    find "$1" \( -type d ! -perm -005 -o -type f ! -perm -004 \) -exec chmod a+rX {} + \
        || die 1 "cannot make $1 readable"
}

ensure_metadata() {
    [ -s "$1/metadata.json" ] && return 0
    tmp="$1/.metadata.json.tmp.$$"
    if printf '%s\n' '{"participants": [], "written_by": "client360 finalize.sh: Jibri left no metadata.json"}' \
        >"$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$1/metadata.json"; then
        say "wrote a minimal $1/metadata.json"
        return 0
    fi
    rm -f "$tmp"
    die 1 "cannot write $1/metadata.json"
}

# The same files with the same contents in both folders (a copy left by an earlier run that stopped midway).
same_tree() {
    for f in "$1"/* "$1"/.[!.]*; do
        [ -e "$f" ] || continue
        case "${f##*/}" in .metadata.json.tmp.*) continue ;; esac
        if [ "${f##*/}" = metadata.json ] && [ ! -s "$f" ]; then continue; fi # replaced in the copy
        if [ -f "$f" ]; then
            cmp -s "$f" "$2/${f##*/}" || return 1
        fi
    done
    return 0
}

if [ -n "$dest" ]; then
    [ -d "$dest" ] || die 2 "destination folder $dest does not exist"
    target="$dest/$name"
    if [ "$(cd "$dest" && pwd -P)" = "$(cd "$(dirname -- "$src")" 2>/dev/null && pwd -P)" ]; then
        dest="" # the destination is the folder Jibri records into: nothing to move
    fi
fi

if [ -n "$dest" ]; then
    if [ ! -e "$src" ] && [ -f "$target/metadata.json" ]; then
        say "$name is already in $dest"
        exit 0
    fi
fi

[ -e "$src" ] || die 2 "session folder $src does not exist"
[ -d "$src" ] || die 2 "$src is not a folder"
has_media "$src" || die 3 "no recording file in $src: nothing done"

if [ -z "$dest" ]; then
    make_readable "$src"
    ensure_metadata "$src"
    say "$src is ready for client360"
    exit 0
fi

incoming="$dest/.c360-incoming-$name"
rm -rf "$incoming" || die 1 "cannot clear $incoming left by an earlier run"

if [ -e "$target" ]; then
    same_tree "$src" "$target" || die 1 "$target already exists with other contents: nothing deleted, check by hand"
    make_readable "$target"
    ensure_metadata "$target"
    rm -rf "$src" || die 1 "copied to $target but cannot delete $src"
    say "$name is already in $dest; removed the original"
    exit 0
fi

cp -Rp "$src" "$incoming" || { rm -rf "$incoming"; die 1 "cannot copy $src to $dest"; }
make_readable "$incoming"
ensure_metadata "$incoming"
mv "$incoming" "$target" || { rm -rf "$incoming"; die 1 "cannot move the copy into $target"; }
rm -rf "$src" || die 1 "copied to $target but cannot delete $src"
say "$name moved to $dest, ready for client360"
exit 0
