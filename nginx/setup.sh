#!/bin/sh
# openwrt-mirror: point this OpenWrt node's package manager at the mirror.
#
#   wget -qO- http://SERVER:8080/setup.sh | sh                  # set up
#   wget -qO- http://SERVER:8080/setup.sh | sh -s -- --restore  # put the original feeds back
#
# POSIX sh for OpenWrt's busybox ash. The mirror serves this file with MIRROR filled in.
set -eu

# nginx fills this in from the Host the script was fetched by, and only with a well-formed one; the
# single quotes make sure that nothing but a quote could turn it into commands anyway.
MIRROR='@MIRROR_URL@'
ROOT=/
ACTION=setup
TMP=

usage() {
  cat <<EOF
Usage: setup.sh [--restore] [--root DIR] [--mirror URL]

Points opkg (/etc/opkg/distfeeds.conf) or apk (/etc/apk/repositories.d/distfeeds.list)
at an openwrt-mirror. The original file is backed up once, to <file>.orig.

  --restore     put the original feed list back (from <file>.orig)
  --root DIR    act on the image or root file system at DIR instead of /
  --mirror URL  the mirror to use (default: $MIRROR)
  -h, --help    show this help

Running it again changes nothing. Afterwards: opkg update (or apk update).
EOF
}

say() { printf 'setup.sh: %s\n' "$*"; }
die() {
  printf 'setup.sh: error: %s\n' "$*" >&2
  exit 1
}
cleanup() { [ -z "$TMP" ] || rm -f "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

while [ $# -gt 0 ]; do
  case $1 in
  --restore) ACTION=restore ;;
  --root)
    [ $# -ge 2 ] || die "--root needs a directory"
    ROOT=$2
    shift
    ;;
  --root=*) ROOT=${1#--root=} ;;
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
  *)
    printf 'setup.sh: unknown option: %s\n\n' "$1" >&2
    usage >&2
    exit 2
    ;;
  esac
  shift
done

[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
ROOT=${ROOT%/}

# The package manager decides the file: apk on 25.12 and later, opkg before.
if [ -f "$ROOT/etc/apk/repositories.d/distfeeds.list" ]; then
  FEEDS=$ROOT/etc/apk/repositories.d/distfeeds.list
  REMOTE=distfeeds.list
  UPDATE="apk update"
elif [ -d "$ROOT/etc/opkg" ]; then
  FEEDS=$ROOT/etc/opkg/distfeeds.conf
  REMOTE=distfeeds.conf
  UPDATE="opkg update"
else
  die "no /etc/opkg or /etc/apk/repositories.d/distfeeds.list under ${ROOT:-/}: is this an OpenWrt root?"
fi
BACKUP=$FEEDS.orig

same_bytes() {
  if command -v cmp >/dev/null 2>&1; then
    cmp -s "$1" "$2"
  else
    [ "$(cat "$1")" = "$(cat "$2")" ]
  fi
}

if [ "$ACTION" = restore ]; then
  if [ ! -f "$BACKUP" ]; then
    say "no backup at $BACKUP: nothing to restore"
    exit 0
  fi
  # One rename: the original is back and the backup gone, so a later set-up backs up afresh.
  mv "$BACKUP" "$FEEDS"
  say "restored $FEEDS from $BACKUP"
  say "now run: $UPDATE"
  exit 0
fi

MIRROR=${MIRROR%/}
case $MIRROR in
http://?* | https://?*) ;;
*) die "no mirror URL (got '$MIRROR'): fetch this script from the mirror, or pass --mirror http://SERVER:8080" ;;
esac
# A URL with a quote, a space, $, ` or ; is no mirror's, and would be shell somewhere: refused.
case $MIRROR in
*[!]A-Za-z0-9._~:/@%[-]*) die "the mirror URL '$MIRROR' has characters no mirror URL needs (allowed: letters, digits and . _ ~ : / @ % [ ] -)" ;;
esac

URL=$MIRROR/$REMOTE
TMP=$FEEDS.new.$$
if ! wget -qO- "$URL" >"$TMP"; then
  die "could not fetch $URL; $FEEDS is unchanged (has the mirror finished its first sync? see $MIRROR/)"
fi

# Write nothing unless every line is a feed of this format or a comment, and there is at least one.
if [ "$REMOTE" = distfeeds.conf ]; then
  FEED_LINE='^src(/gz)? [A-Za-z0-9_.-]+ https?://[^ ]+$'
else
  FEED_LINE='^(@[A-Za-z0-9_.-]+ )?https?://[^ ]+$'
fi
if ! grep -Eq "$FEED_LINE" "$TMP"; then
  die "$URL holds no feed lines; $FEEDS is unchanged"
fi
if grep -Ev "$FEED_LINE" "$TMP" | grep -Evq '^[[:space:]]*(#.*)?$'; then
  die "$URL holds lines that are not feeds (an error page?); $FEEDS is unchanged"
fi

if same_bytes "$TMP" "$FEEDS" 2>/dev/null; then
  say "$FEEDS already points at $MIRROR: nothing to do"
  exit 0
fi

if [ -e "$BACKUP" ]; then
  say "keeping the existing backup $BACKUP"
elif [ -f "$FEEDS" ]; then
  cp -p "$FEEDS" "$BACKUP.new.$$"
  mv "$BACKUP.new.$$" "$BACKUP"
  say "backed up $FEEDS to $BACKUP"
fi

chmod 0644 "$TMP"
mv "$TMP" "$FEEDS"
TMP=
say "wrote $FEEDS, feeds from $MIRROR:"
sed 's/^/  /' "$FEEDS"
say "now run: $UPDATE"
