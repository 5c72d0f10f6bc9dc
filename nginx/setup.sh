#!/bin/sh
# openwrt-mirror: point this OpenWrt node's package manager at the mirror.
#
#   wget -qO- http://SERVER:8080/setup.sh | sh                  # set up
#   wget -qO- http://SERVER:8080/setup.sh | sh -s -- --restore  # put the original feeds back
#   wget -qO- http://SERVER:8080/setup.sh | sh -s -- --https    # feeds over HTTPS, if verifiable
#
# Reads the router's release, target and architecture from /etc/openwrt_release and writes the
# lines of that set (release × target) from the mirror's /distfeeds/<release>/<target>/; a router
# the mirror does not carry is refused with its files untouched.
#
# POSIX sh for OpenWrt's busybox ash. The mirror serves this file with MIRROR filled in.
set -eu

# nginx fills this in from the Host the script was fetched by, and only with a well-formed one; the
# single quotes make sure that nothing but a quote could turn it into commands anyway.
MIRROR='@MIRROR_URL@'
ROOT=/
ACTION=setup
TMP=
RELEASE=
HTTPS=no

usage() {
  cat <<EOF
Usage: setup.sh [--restore] [--https] [--release X] [--root DIR] [--mirror URL]

Points opkg (/etc/opkg/distfeeds.conf) or apk (/etc/apk/repositories.d/distfeeds.list)
at an openwrt-mirror, with the feeds of this router's release and target (read from
/etc/openwrt_release). The original file is backed up once, to <file>.orig.

  --restore     put the original feed list back (from <file>.orig)
  --https       point the feeds at the mirror's HTTPS, only if this router's wget can
                verify its certificate (put it in /etc/ssl/certs/ first; else refused)
  --release X   use the mirror's release X of this router's target instead of the router's own
                (moving a router on before a sysupgrade; same package manager only)
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
  --https) HTTPS=yes ;;
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
  FORMAT=apk
  UPDATE="apk update"
elif [ -d "$ROOT/etc/opkg" ]; then
  FEEDS=$ROOT/etc/opkg/distfeeds.conf
  REMOTE=distfeeds.conf
  FORMAT=opkg
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

# --https: the mirror's HTTPS URL, and a fetch from it by this router's own wget, the client opkg
# uses too: a certificate it cannot verify is refused here, with the router untouched, rather than by
# every opkg update after. Over HTTP the mirror tells the port its HTTPS is published on.
if [ "$HTTPS" = yes ]; then
  case $MIRROR in
  https://*) ;;
  *)
    if ! port=$(wget -qO- "$MIRROR/https-port" 2>/dev/null); then
      die "$MIRROR serves no HTTPS (no $MIRROR/https-port): it has no certificate in its tls volume (TLS=self-signed makes one; README: HTTPS). Leave --https out; $FEEDS is unchanged"
    fi
    case $port in
    '' | *[!0-9]* | ??????*) die "$MIRROR/https-port says '$port', not a port; $FEEDS is unchanged" ;;
    esac
    authority=${MIRROR#http://}
    base=
    case $authority in
    */*)
      base=/${authority#*/}
      authority=${authority%%/*}
      ;;
    esac
    case $authority in
    \[*) host=${authority%%]*}] ;;
    *) host=${authority%%:*} ;;
    esac
    MIRROR=https://$host:$port$base
    ;;
  esac
  TMP=$FEEDS.https.$$
  if wget -q -O /dev/null "$MIRROR/healthz" 2>"$TMP"; then fetched=yes; else fetched=no; fi
  why=$(grep -v '^[[:space:]]*$' "$TMP" | head -n 3 | tr '\n' ' ')
  why=${why% }
  if grep -q 'validation not implemented' "$TMP"; then
    die "this router's wget does not verify certificates ($why), so HTTPS would prove nothing: install uclient-fetch with a libustream TLS package and ca-bundle, or leave --https out; $FEEDS is unchanged"
  fi
  if [ "$fetched" = no ]; then
    die "this router cannot fetch $MIRROR/ with a certificate it verifies (${why:-wget failed}): copy the mirror's certificate to /etc/ssl/certs/openwrt-mirror.crt and make sure the name you use for the mirror is in its TLS_NAMES (README: HTTPS), or leave --https out; $FEEDS is unchanged"
  fi
  rm -f "$TMP"
  TMP=
  say "$MIRROR verified by this router's wget: using HTTPS"
fi

# What the router is: DISTRIB_* of /etc/openwrt_release, read (not sourced: under --root it is an
# image's file) and held to the characters a release, target or arch has.
INFO=$ROOT/etc/openwrt_release
[ -f "$INFO" ] || die "no /etc/openwrt_release under ${ROOT:-/}: cannot tell this router's release and target; $FEEDS is unchanged"
distrib() {
  sed -n "s/^$1=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}[[:space:]]*\$/\1/p" "$INFO" | head -n 1
}
safe_word() {
  case $1 in
  '' | *[!A-Za-z0-9._+~/-]*) return 1 ;;
  esac
}
OWN_RELEASE=$(distrib DISTRIB_RELEASE)
TARGET=$(distrib DISTRIB_TARGET)
ARCH=$(distrib DISTRIB_ARCH)
for field in "DISTRIB_RELEASE=$OWN_RELEASE" "DISTRIB_TARGET=$TARGET" "DISTRIB_ARCH=$ARCH"; do
  safe_word "${field#*=}" || die "/etc/openwrt_release has no usable ${field%%=*} (got '${field#*=}'); $FEEDS is unchanged"
done
ROUTER="OpenWrt $OWN_RELEASE on $TARGET ($ARCH, $FORMAT)"
[ -n "$RELEASE" ] || RELEASE=$OWN_RELEASE
safe_word "$RELEASE" || die "--release '$RELEASE' is not a release name"

# What the mirror carries: one set a line, `<release> <target> <arch> <opkg|apk>`.
TMP=$FEEDS.new.$$
if ! wget -qO- "$MIRROR/distfeeds/sets" >"$TMP"; then
  die "could not fetch $MIRROR/distfeeds/sets; $FEEDS is unchanged (has the mirror finished its first sync? see $MIRROR/)"
fi
CARRIED=
OF_TARGET=
SET=
while read -r set_release set_target set_arch set_format rest; do
  if ! safe_word "$set_release" || ! safe_word "$set_target" || ! safe_word "$set_arch"; then
    continue
  fi
  case $set_format in opkg | apk) ;; *) continue ;; esac
  CARRIED="$CARRIED${CARRIED:+, }$set_release $set_target ($set_arch, $set_format)"
  if [ "$set_target" = "$TARGET" ] && [ "$set_arch" = "$ARCH" ]; then
    OF_TARGET="$OF_TARGET${OF_TARGET:+ }$set_release"
    if [ "$set_release" = "$RELEASE" ]; then SET=$set_format; fi
  fi
done <"$TMP"
rm -f "$TMP"
TMP=
[ -n "$CARRIED" ] || die "$MIRROR/distfeeds/sets lists no set (an error page?); $FEEDS is unchanged"
if [ -z "$OF_TARGET" ]; then
  die "this router is $ROUTER, and the mirror carries no set of its target and arch; it carries: $CARRIED. $FEEDS is unchanged"
fi
if [ -z "$SET" ]; then
  if [ "$RELEASE" = "$OWN_RELEASE" ]; then
    die "this router is $ROUTER, and the mirror carries $TARGET only for release(s) $OF_TARGET: to move it to one of those, run setup.sh with --release RELEASE (same package manager), or sysupgrade. $FEEDS is unchanged"
  fi
  die "--release $RELEASE: the mirror carries $TARGET only for release(s) $OF_TARGET. $FEEDS is unchanged"
fi
if [ "$SET" != "$FORMAT" ]; then
  die "release $RELEASE uses $SET and this router ($ROUTER) uses $FORMAT: sysupgrade it to $RELEASE first, then run setup.sh again. $FEEDS is unchanged"
fi

URL=$MIRROR/distfeeds/$RELEASE/$TARGET/$REMOTE
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
say "wrote $FEEDS, the feeds of $RELEASE $TARGET from $MIRROR:"
sed 's/^/  /' "$FEEDS"
say "now run: $UPDATE"
