#!/bin/sh
# openwrt-mirror: HTTPS beside HTTP, with the certificate and key in the tls volume (TLS_DIR:
# cert.pem, key.pem). The template's one server block includes $TLS_CONF_DIR/*.conf right after its
# HTTP listen; this script writes tls.conf there (`listen 8443 ssl`, the certificate, modern TLS
# settings) only when the pair is there and nginx accepts it, and says in the log when it is not:
# then nginx serves HTTP only, as it always does. HTTP stays either way, routers' uclient-fetch
# has no CA for a self-signed certificate (and packages are signed anyway), so no HSTS.
#
# The official image runs each executable /docker-entrypoint.d/*.sh before it starts nginx (after
# 20-envsubst-on-templates.sh has rendered the template, and after the access log's script, so
# `nginx -t` sees the whole configuration). The worker makes a self-signed certificate at its own
# start (TLS=self-signed), usually after nginx has started: rather than hold HTTP back waiting for
# it, a loop in the background looks at the pair every TLS_CHECK_SECONDS and, when it appeared,
# changed (a renewal) or went away, rewrites or removes tls.conf and reloads nginx.
#
# `--once` applies the pair once without reloading (before nginx starts), `--watch` runs the loop in
# the foreground: the tests run it so against their own nginx. Every failure here leaves HTTP as it
# is: the script never stops the container from starting.
set -u

tls_dir=${TLS_DIR:-/srv/tls}
conf_dir=${TLS_CONF_DIR:-/etc/nginx/openwrt-mirror-tls.d}
listen=${HTTPS_LISTEN:-8443}
published=${HTTPS_PORT:-8443}
check_seconds=${TLS_CHECK_SECONDS:-10}
nginx=${NGINX_CMD:-nginx}
cert=$tls_dir/cert.pem
key=$tls_dir/key.pem
conf=$conf_dir/tls.conf

say() {
	echo "$0: $*" >&2
}

# The values go into nginx's configuration: hold them to what they can be.
case $tls_dir in
/*) ;;
*) say "TLS_DIR=$tls_dir is not an absolute path: HTTPS is off, HTTP only"; exit 0 ;;
esac
case $tls_dir$conf_dir in
*[!A-Za-z0-9._/-]*) say "TLS_DIR=$tls_dir or TLS_CONF_DIR=$conf_dir has characters a path here need not have: HTTPS is off, HTTP only"; exit 0 ;;
esac
case $listen in
'' | *[!]0-9A-Fa-f.:[]*) say "HTTPS_LISTEN=$listen is not a port or address:port: HTTPS is off, HTTP only"; exit 0 ;;
esac
case $published in
'' | *[!0-9]*) say "HTTPS_PORT=$published is not a port: HTTPS is off, HTTP only"; exit 0 ;;
esac
case $check_seconds in
'' | *[!0-9]* | 0) say "TLS_CHECK_SECONDS=$check_seconds is not a whole number of seconds: 10 it is"; check_seconds=10 ;;
esac

# What the pair is now: none, unreadable, or the checksums of both (a renewal changes them).
state() {
	if [ ! -e "$cert" ] && [ ! -e "$key" ]; then
		echo none
	elif [ ! -f "$cert" ] || [ ! -r "$cert" ] || [ ! -f "$key" ] || [ ! -r "$key" ]; then
		echo incomplete
	else
		echo "$(cksum <"$cert") $(cksum <"$key")"
	fi
}

write_conf() {
	mkdir -p "$conf_dir" || return 1
	# Modern TLS only: 1.2 and 1.3, forward-secret AEAD suites (Mozilla's "intermediate" without
	# DHE, which would need parameters of our own). No Strict-Transport-Security: HTTP must keep
	# working for routers that cannot verify the certificate.
	cat >"$conf.tmp" <<EOF || return 1
# Written by openwrt-mirror's $(basename "$0") from the certificate in $tls_dir.
listen $listen ssl;
ssl_certificate $cert;
ssl_certificate_key $key;
ssl_protocols TLSv1.2 TLSv1.3;
ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
ssl_prefer_server_ciphers off;
ssl_session_cache shared:openwrt_mirror_tls:1m;
ssl_session_timeout 1d;
ssl_session_tickets off;

# The host port HTTPS is published on: setup.sh --https builds the mirror's https URL with it.
location = /https-port {
    default_type text/plain;
    return 200 "$published\n";
}
EOF
	mv "$conf.tmp" "$conf"
}

# Without a usable pair the HTTPS port is still listened on, in plain HTTP, to say why: the compose
# file publishes it either way, and a port that refuses connections tells nobody anything. Every
# request that comes in on it gets one line (a TLS client sees a handshake failure, as from any
# plain-HTTP port).
write_off_conf() {
	mkdir -p "$conf_dir" || return 1
	cat >"$conf.tmp" <<EOF || return 1
# Written by openwrt-mirror's $(basename "$0"): no usable certificate in $tls_dir, HTTPS is off.
listen $listen;
if (\$server_port = ${listen##*:}) {
    rewrite ^ /openwrt-mirror-https-off last;
}
location = /openwrt-mirror-https-off {
    internal;
    default_type text/plain;
    return 400 "openwrt-mirror: HTTPS is off: there is no usable certificate in the tls volume (TLS=self-signed makes one; README, HTTPS). Use http:// and the HTTP port.\n";
}
EOF
	mv "$conf.tmp" "$conf"
}

# The HTTPS port answering that HTTPS is off; nothing there when even that fails.
off() {
	write_off_conf && $nginx -t >/dev/null 2>&1 && return 0
	rm -f "$conf" "$conf.tmp"
	return 1
}

# nginx's complaint, without its "syntax is ok" and "test failed" lines.
problem_of() {
	printf '%s\n' "$1" | grep -E '\[(emerg|alert|crit|error)\]' | sed 's/^nginx: //' | head -n 3 | tr '\n' ' '
}

reload() {
	out=$($nginx -s reload 2>&1) && return 0
	say "could not reload nginx ($(printf '%s' "$out" | head -n 1)); trying again in ${check_seconds} s"
	return 1
}

# Makes the configuration match the pair. $1: `reload` once nginx runs. Sets `applied` to the state
# it acted on, or leaves it when nginx could not be reloaded, so the next check tries again.
apply() {
	current=$(state)
	before=$(cksum <"$conf" 2>/dev/null)
	# A renewed pair keeps the same lines: nginx reads the new files only when reloaded.
	renewed=no
	case $current in
	none | incomplete)
		if [ "$current" = none ]; then
			say "no certificate in $tls_dir (cert.pem and key.pem): HTTPS is off, HTTP only. TLS=self-signed makes one at the worker's start, or put yours there (README: HTTPS); looking again every ${check_seconds} s"
		else
			say "$cert and $key are not both there as readable files: HTTPS is off, HTTP only; looking again every ${check_seconds} s"
		fi
		off
		;;
	*)
		# Whatever fails now without our file is not the certificate's doing.
		rm -f "$conf"
		if ! out=$($nginx -t 2>&1); then
			say "nginx's configuration fails without HTTPS too ($(problem_of "$out")): HTTPS left off"
			applied=$current
			return 0
		fi
		if ! write_conf; then
			say "could not write $conf: HTTPS is off, HTTP only"
			rm -f "$conf.tmp"
			off
		elif out=$($nginx -t 2>&1); then
			renewed=yes
			say "HTTPS on (listen $listen, published as port $published) with $cert"
		else
			rm -f "$conf"
			say "nginx cannot use the certificate in $tls_dir: $(problem_of "$out")- HTTPS is off, HTTP only; looking again every ${check_seconds} s"
			off
		fi
		;;
	esac
	if [ "$1" = reload ] && { [ "$renewed" = yes ] || [ "$before" != "$(cksum <"$conf" 2>/dev/null)" ]; }; then
		reload || return 0
	fi
	applied=$current
}

watch() {
	while sleep "$check_seconds"; do
		now=$(state)
		[ "$now" != "$applied" ] || continue
		# A pair being written (the key renamed, the certificate not yet): act on it once it holds still.
		sleep 1
		[ "$(state)" = "$now" ] || continue
		apply reload
	done
}

case ${1:-} in
--once)
	apply start
	;;
--watch)
	applied=$(state)
	watch
	;;
*)
	apply start
	watch </dev/null >/dev/null &
	;;
esac
exit 0
