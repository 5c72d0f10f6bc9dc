#!/bin/sh
# openwrt-mirror: upgrade this OpenWrt router's firmware from the mirror.
#
#   wget -qO- http://SERVER:8080/upgrade.sh | sh                     # say what it would do
#   wget -qO- http://SERVER:8080/upgrade.sh | sh -s -- --yes         # do it (settings kept)
#   wget -qO- http://SERVER:8080/upgrade.sh | sh -s -- --yes -- -n   # do it, settings not kept
#
# Reads the router's board name, release and target; picks the newest release of its series the
# mirror carries for its target (or --release); finds the board's sysupgrade image in that release's
# profiles.json through each profile's supported_devices; downloads it into /tmp, checks its SHA-256
# against profiles.json and only then runs sysupgrade with it. A dry run unless --yes.
#
# POSIX sh for OpenWrt's busybox ash. The mirror serves this file with MIRROR filled in.
set -eu

# nginx fills this in from the Host the script was fetched by, and only with a well-formed one; the
# single quotes make sure that nothing but a quote could turn it into commands anyway.
MIRROR='@MIRROR_URL@'
ROOT=/
RELEASE=
YES=
WORK=

usage() {
  cat <<EOF
Usage: upgrade.sh [--yes] [--release X] [--root DIR] [--mirror URL] [-- SYSUPGRADE-OPTIONS]

Upgrades this router's firmware with its sysupgrade image from an openwrt-mirror: the image of
its board (ubus call system board, or /tmp/sysinfo/board_name) in the mirror's profiles.json of
the release, checked against the SHA-256 that profiles.json gives, then handed to sysupgrade.
Without --yes it only says what it would do.

  --yes         download the image, check it and run sysupgrade with it
  --release X   upgrade to the mirror's release X (default: the newest release of this router's
                own series, e.g. the newest 24.10.x, that the mirror carries for its target)
  --root DIR    act on the root file system at DIR instead of / (board name from
                DIR/tmp/sysinfo/board_name, image into DIR/tmp, DIR/sbin/sysupgrade runs)
  --mirror URL  the mirror to use (default: $MIRROR)
  -h, --help    show this help
  -- OPTIONS    passed to sysupgrade before the image (e.g. -- -n: do not keep the settings)

Exit status: 0 done (or a dry run, or nothing to do), 1 refused or failed, 2 bad option.
EOF
}

say() { printf 'upgrade.sh: %s\n' "$*"; }
die() {
  printf 'upgrade.sh: error: %s\n' "$*" >&2
  exit 1
}
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

while [ $# -gt 0 ]; do
  case $1 in
  --yes | -y) YES=1 ;;
  --root)
    [ $# -ge 2 ] || die "--root needs a directory"
    ROOT=$2
    shift
    ;;
  --root=*) ROOT=${1#--root=} ;;
  --release)
    [ $# -ge 2 ] || die "--release needs a release, e.g. 24.10.4"
    RELEASE=$2
    shift
    ;;
  --release=*) RELEASE=${1#--release=} ;;
  --mirror)
    [ $# -ge 2 ] || die "--mirror needs a URL"
    MIRROR=$2
    shift
    ;;
  --mirror=*) MIRROR=${1#--mirror=} ;;
  -h | --help)
    usage
    exit 0
    ;;
  --)
    shift
    break
    ;;
  *)
    printf 'upgrade.sh: unknown option: %s\n\n' "$1" >&2
    usage >&2
    exit 2
    ;;
  esac
  shift
done
# What is left in "$@" goes to sysupgrade, before the image.

[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
ROOT=${ROOT%/}

MIRROR=${MIRROR%/}
case $MIRROR in
http://?* | https://?*) ;;
*) die "no mirror URL (got '$MIRROR'): fetch this script from the mirror, or pass --mirror http://SERVER:8080" ;;
esac
# A URL with a quote, a space, $, ` or ; is no mirror's, and would be shell somewhere: refused.
case $MIRROR in
*[!]A-Za-z0-9._~:/@%[-]*) die "the mirror URL '$MIRROR' has characters no mirror URL needs (allowed: letters, digits and . _ ~ : / @ % [ ] -)" ;;
esac

# Words that go into URLs and file names: held to the characters they have.
safe_word() {
  case $1 in
  '' | *[!A-Za-z0-9._+~/-]*) return 1 ;;
  esac
}

# What the router is: DISTRIB_* of /etc/openwrt_release, read (not sourced: under --root it is an
# image's file).
INFO=$ROOT/etc/openwrt_release
[ -f "$INFO" ] || die "no /etc/openwrt_release under ${ROOT:-/}: cannot tell this router's release and target"
distrib() {
  sed -n "s/^$1=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}[[:space:]]*\$/\1/p" "$INFO" | head -n 1
}
OWN_RELEASE=$(distrib DISTRIB_RELEASE)
TARGET=$(distrib DISTRIB_TARGET)
for field in "DISTRIB_RELEASE=$OWN_RELEASE" "DISTRIB_TARGET=$TARGET"; do
  safe_word "${field#*=}" || die "/etc/openwrt_release has no usable ${field%%=*} (got '${field#*=}')"
done
case $TARGET in
*/*) ;;
*) die "/etc/openwrt_release: DISTRIB_TARGET '$TARGET' is not target/subtarget" ;;
esac
[ -z "$RELEASE" ] || safe_word "$RELEASE" || die "--release '$RELEASE' is not a release name"

# The board, as sysupgrade checks an image against it: ubus on a running router, the file procd
# writes otherwise (and always under --root, where ubus would answer for the wrong system).
BOARD=
if [ -z "$ROOT" ] && command -v ubus >/dev/null 2>&1; then
  BOARD=$(ubus call system board 2>/dev/null | sed -n 's/^[[:space:]]*"board_name":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1) || BOARD=
fi
if [ -z "$BOARD" ] && [ -f "$ROOT/tmp/sysinfo/board_name" ]; then
  BOARD=$(head -n 1 "$ROOT/tmp/sysinfo/board_name")
fi
case $BOARD in
'') die "cannot tell this router's board: no answer from ubus call system board, no /tmp/sysinfo/board_name under ${ROOT:-/}" ;;
*[!A-Za-z0-9._,+-]*) die "the board name '$BOARD' has characters no board name has" ;;
esac

SYSUPGRADE=$ROOT/sbin/sysupgrade
[ -x "$SYSUPGRADE" ] || die "no sysupgrade at $SYSUPGRADE: is this an OpenWrt root?"
[ -d "$ROOT/tmp" ] || die "no /tmp under ${ROOT:-/} to download the image into"

# This run's files, in the router's /tmp, removed at the end whatever happens.
mkdir "$ROOT/tmp/upgrade.sh.$$" || die "cannot make a directory in ${ROOT:-}/tmp"
WORK=$ROOT/tmp/upgrade.sh.$$
fetch() {
  if command -v uclient-fetch >/dev/null 2>&1; then
    uclient-fetch -q -O "$2" "$1"
  else
    wget -q -O "$2" "$1"
  fi
}

# The release: the mirror's sets (`<release> <target> <arch> <format>` a line) of this target.
SETS=$WORK/sets
fetch "$MIRROR/distfeeds/sets" "$SETS" ||
  die "could not fetch $MIRROR/distfeeds/sets (has the mirror finished its first sync? see $MIRROR/)"
OF_TARGET=
CARRIED=
while read -r set_release set_target set_arch set_format rest; do
  if ! safe_word "$set_release" || ! safe_word "$set_target"; then continue; fi
  CARRIED="$CARRIED${CARRIED:+, }$set_release $set_target"
  if [ "$set_target" = "$TARGET" ]; then OF_TARGET="$OF_TARGET${OF_TARGET:+ }$set_release"; fi
done <"$SETS"
[ -n "$CARRIED" ] || die "$MIRROR/distfeeds/sets lists no release (an error page?)"
ROUTER="this router ($BOARD) runs OpenWrt $OWN_RELEASE on $TARGET"
[ -n "$OF_TARGET" ] || die "$ROUTER, and the mirror carries no release of $TARGET; it carries: $CARRIED"

# The newest of the releases on stdin, by <major>.<minor>.<patch>; a final release is newer than
# its release candidates.
newest() {
  tr ' ' '\n' | awk '
    NF {
      v = $0; pre = "~"; i = index(v, "-")
      if (i) { pre = "-" substr(v, i + 1); v = substr(v, 1, i - 1) }
      split(v, n, ".")
      k = sprintf("%09d.%09d.%09d%s", n[1], n[2], n[3], pre)
      if (best == "" || k > bestk) { best = $0; bestk = k }
    }
    END { print best }'
}
SERIES=$(printf '%s\n' "$OWN_RELEASE" | sed -n 's/^\([0-9][0-9]*\.[0-9][0-9]*\)\..*/\1/p')
if [ -n "$RELEASE" ]; then
  case " $OF_TARGET " in
  *" $RELEASE "*) ;;
  *) die "--release $RELEASE: the mirror carries $TARGET only for release(s) $OF_TARGET" ;;
  esac
else
  [ -n "$SERIES" ] || die "$ROUTER, which is no release series: name the release with --release (the mirror has $OF_TARGET)"
  IN_SERIES=
  for candidate in $OF_TARGET; do
    case $candidate in "$SERIES".*) IN_SERIES="$IN_SERIES $candidate" ;; esac
  done
  [ -n "$IN_SERIES" ] ||
    die "$ROUTER, and the mirror carries no $SERIES release of $TARGET, only $OF_TARGET: to move to one of those, run upgrade.sh with --release RELEASE"
  RELEASE=$(printf '%s' "$IN_SERIES" | newest)
  if [ "$RELEASE" = "$OWN_RELEASE" ]; then
    say "$ROUTER, the newest $SERIES release the mirror carries: nothing to upgrade to"
    say "(--release $RELEASE flashes it again; the mirror carries $TARGET for $OF_TARGET)"
    exit 0
  fi
  if [ "$(printf '%s %s' "$RELEASE" "$OWN_RELEASE" | newest)" = "$OWN_RELEASE" ]; then
    die "$ROUTER, newer than $RELEASE, the newest $SERIES release the mirror carries: nothing to upgrade to (--release $RELEASE would go back)"
  fi
fi

# The image: the board's profile in the release's profiles.json, matched through its
# supported_devices (board names have a comma where profile ids have an underscore), and its
# sysupgrade image, which the mirror holds only for the devices it mirrors (its listing says).
TARGET_URL=$MIRROR/releases/$RELEASE/targets/$TARGET
PROFILES=$WORK/profiles.json
LISTING=$WORK/listing
fetch "$TARGET_URL/profiles.json" "$PROFILES" || die "could not fetch $TARGET_URL/profiles.json"
fetch "$TARGET_URL/" "$LISTING" || die "could not list $TARGET_URL/"

# profiles.json is one line of JSON upstream, and may be pretty-printed: busybox awk reads either.
# Splitting each line at its quotes leaves strings and the structure between them apart, so even
# a megabyte on one line is read in one pass. Prints `device <id>` for every profile whose
# sysupgrade image the mirror holds, `match <id> <image> <sha256> <held: yes|no>` for the
# profile(s) supporting the board, `types <id> <image types>` for a matching one without one.
FOUND=$(awk -v board="$BOARD" -v listing="$LISTING" '
  FILENAME == listing {
    while (match($0, /href="[^"]*"/)) {
      name = substr($0, RSTART + 6, RLENGTH - 7)
      held[name] = 1
      size[name] = ""
      rest = substr($0, RSTART + RLENGTH)
      if (match(rest, /[0-9]+[[:space:]]*$/)) {
        size[name] = substr(rest, RSTART)
        sub(/[^0-9].*$/, "", size[name])
      }
      $0 = rest
    }
    next
  }
  function value(text,    path, i, id, n, p) {
    path = ""
    for (i = 1; i <= depth; i++) path = path (i > 1 ? "/" : "") key[i]
    if (path !~ /^profiles\//) return
    n = split(path, p, "/")
    id = p[2]
    if (!(id in seen)) { seen[id] = 1; ids[++nids] = id }
    if (n == 4 && p[3] == "supported_devices") supported[id] = supported[id] " " text " "
    if (n == 5 && p[3] == "images" && p[5] ~ /^(type|name|sha256|filesystem)$/) {
      image[id, p[4], p[5]] = text
      if (p[4] + 1 > images[id]) images[id] = p[4] + 1
    }
  }
  function open_(kind) {
    depth++
    type[depth] = kind
    key[depth] = (kind == "a") ? 0 : ""
    want[depth] = (kind == "a") ? "value" : "key"
  }
  function scalar(text) {
    if (depth > 0 && type[depth] == "o" && want[depth] == "key") { key[depth] = text; return }
    value(text)
  }
  function literal() {
    if (lit != "") { scalar(lit); lit = "" }
  }
  function structure(s,    i, c, n) {
    # Between tokens, whitespace only ends a literal, and a delimiter always follows one.
    if (index(s, " ") || index(s, "\t") || index(s, "\r")) gsub(/[[:space:]]+/, "", s)
    n = length(s)
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1)
      if (c == "{" || c == "[") { literal(); open_(c == "{" ? "o" : "a") }
      else if (c == "}" || c == "]") { literal(); if (depth > 0) depth-- }
      else if (c == ":") { literal(); want[depth] = "value" }
      else if (c == ",") {
        literal()
        if (type[depth] == "a") key[depth]++
        else want[depth] = "key"
      }
      else lit = lit c
    }
  }
  {
    n = split($0, part, "\"")
    inside = 0
    text = ""
    for (i = 1; i <= n; i++) {
      if (!inside) { structure(part[i]); inside = 1; text = ""; continue }
      # A quote after an odd number of backslashes is part of the string.
      if (i < n && match(part[i], /\\+$/) && RLENGTH % 2 == 1) { text = text part[i] "\""; continue }
      scalar(text part[i])
      inside = 0
    }
  }
  END {
    for (j = 1; j <= nids; j++) {
      id = ids[j]
      pick = ""
      kinds = ""
      for (k = 0; k < images[id]; k++) {
        kinds = kinds (kinds == "" ? "" : ",") image[id, k, "type"]
        if (image[id, k, "type"] != "sysupgrade") continue
        if (pick == "" || image[id, k, "filesystem"] == "squashfs" && image[id, pick, "filesystem"] != "squashfs") pick = k
      }
      name = (pick == "") ? "" : image[id, pick, "name"]
      if (name != "" && (name in held)) print "device " id
      if (index(supported[id], " " board " ")) {
        if (name == "") print "types " id " " (kinds == "" ? "none" : kinds)
        else print "match " id " " name " " image[id, pick, "sha256"] " " ((name in held) ? "yes" : "no") " " size[name]
      }
    }
  }' "$LISTING" "$PROFILES") || die "could not read $TARGET_URL/profiles.json"

DEVICES=$(printf '%s\n' "$FOUND" | sed -n 's/^device //p' | sort | tr '\n' ' ')
DEVICES=${DEVICES% }
# Of several profiles supporting the board, one whose image the mirror holds.
MATCH=$(printf '%s\n' "$FOUND" | awk '$1 == "match" { if (!line || $5 == "yes" && held != "yes") { line = $0; held = $5 } } END { print line }')
if [ -z "$MATCH" ]; then
  TYPES=$(printf '%s\n' "$FOUND" | sed -n 's/^types //p' | head -n 1)
  [ -z "$TYPES" ] ||
    die "the profile ${TYPES%% *} of board $BOARD has no sysupgrade image in $RELEASE (it has ${TYPES#* }): upgrade it by hand"
  die "no device profile of $TARGET in $RELEASE supports board $BOARD; the mirror has images for: ${DEVICES:-none}"
fi
read -r _ PROFILE IMAGE_NAME SHA256 HELD SIZE <<EOF
$MATCH
EOF
case $IMAGE_NAME in
'' | .* | *[!A-Za-z0-9._+-]*) die "profiles.json names the image '$IMAGE_NAME', which is no file name" ;;
esac
case $SHA256 in
*[!0-9a-fA-F]*) die "profiles.json gives '$SHA256' as the SHA-256 of $IMAGE_NAME" ;;
esac
[ ${#SHA256} -eq 64 ] || die "profiles.json gives '$SHA256' as the SHA-256 of $IMAGE_NAME"
SHA256=$(printf '%s' "$SHA256" | tr 'A-F' 'a-f')
if [ "$HELD" != yes ]; then
  die "the mirror holds no image of $PROFILE (board $BOARD) for $RELEASE: add $PROFILE to OPENWRT_DEVICES (or OPENWRT_DEVICES=all) and sync; it has images for: ${DEVICES:-none}"
fi

IMAGE=$ROOT/tmp/$IMAGE_NAME
say "router:    OpenWrt $OWN_RELEASE on $TARGET, board $BOARD"
say "release:   $RELEASE (profile $PROFILE)"
say "image:     $TARGET_URL/$IMAGE_NAME"
if [ -n "$SIZE" ]; then say "size:      $SIZE bytes"; else say "size:      unknown"; fi
say "sha256:    $SHA256"
say "command:   $SYSUPGRADE${*:+ $*} $IMAGE"
if [ -z "$YES" ]; then
  say "dry run: nothing downloaded, nothing run. To upgrade, run it again with --yes"
  exit 0
fi

PART=$WORK/image
say "downloading $IMAGE_NAME into ${ROOT:-}/tmp ..."
fetch "$TARGET_URL/$IMAGE_NAME" "$PART" || die "could not download $TARGET_URL/$IMAGE_NAME; nothing was run"
GOT=$(sha256sum "$PART" | cut -d ' ' -f 1)
if [ "$GOT" != "$SHA256" ]; then
  rm -f "$PART"
  die "the image's SHA-256 is $GOT, and profiles.json says $SHA256: refused, deleted, nothing was run"
fi
mv "$PART" "$IMAGE"
say "verified: $IMAGE ($(wc -c <"$IMAGE" | tr -d ' ') bytes, sha256 $SHA256)"
say "running: $SYSUPGRADE${*:+ $*} $IMAGE"
# The image stays where sysupgrade was told it is: a sysupgrade that went ahead reads it later.
status=0
"$SYSUPGRADE" "$@" "$IMAGE" || status=$?
if [ "$status" -ne 0 ]; then
  rm -f "$IMAGE"
  die "sysupgrade refused $IMAGE (exit $status); the image is deleted"
fi
