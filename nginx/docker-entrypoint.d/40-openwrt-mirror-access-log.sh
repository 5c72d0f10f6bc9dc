#!/bin/sh
# openwrt-mirror: rotates the JSON access log (nginx/openwrt-mirror.d/access-log.conf) inside the
# nginx container, so that no log grows without bound and the worker, which runs in another
# container as another user and cannot signal nginx, loses no line.
#
# The official image runs each executable /docker-entrypoint.d/*.sh before it starts nginx; this one
# leaves a loop in the background that every ACCESS_LOG_CHECK_SECONDS looks at the log and, once it
# is ACCESS_LOG_ROTATE_BYTES or more and the worker has taken the previous one, rotates it:
#
#   access.json -> access.json.rotating   nginx keeps writing into it (same file, new name)
#   kill -USR1 nginx                       nginx flushes its buffers into it, opens a new access.json
#   (ACCESS_LOG_SETTLE_SECONDS later)
#   access.json.rotating -> access.json.1  complete: nothing writes into it any more
#
# The worker reads access.json from where it stopped (by inode and offset, kept in the mirror
# volume), reads the rest of access.json.1 when it appears and then deletes it. It owns the
# directory for that. If the worker does not take access.json.1 (stopped for days), the log may
# grow to ACCESS_LOG_MAX_BYTES; then the old access.json.1 is dropped, and its lines with it.
#
# Each step of rotate_once checks its own result: it also runs where `set -e` does not apply.
# `--once` checks and rotates once in the foreground (the tests run it so against their own nginx).
set -eu

dir=${ACCESS_LOG_DIR:-/var/log/openwrt-mirror}
rotate_bytes=${ACCESS_LOG_ROTATE_BYTES:-16777216}
max_bytes=${ACCESS_LOG_MAX_BYTES:-268435456}
check_seconds=${ACCESS_LOG_CHECK_SECONDS:-60}
settle_seconds=${ACCESS_LOG_SETTLE_SECONDS:-5}
pid_file=${NGINX_PID_FILE:-/var/run/nginx.pid}
# The worker image's user (`node`, 1000 in the official node images).
owner=${ACCESS_LOG_OWNER:-1000}
log=$dir/access.json

say() {
	echo "$0: $*" >&2
}

size_of() {
	wc -c <"$1" | tr -d ' '
}

rotate_once() {
	[ -f "$log" ] || return 0
	size=$(size_of "$log")
	[ "$size" -ge "$rotate_bytes" ] || return 0
	# Without nginx to reopen the log nothing can rotate: check before anything is dropped.
	[ -s "$pid_file" ] || { say "no nginx pid in $pid_file, not rotating"; return 0; }
	if [ -e "$log.1" ] && [ ! -f "$log.1" ]; then
		# Not a file the worker can take (a directory?): out of the way, or it would block every rotation.
		say "$log.1 is not a file; moved aside to $log.1.not-a-file.$$"
		mv "$log.1" "$log.1.not-a-file.$$" || return 1
	fi
	if [ -e "$log.1" ]; then
		# The worker has not taken the last one yet: wait for it, up to a bound.
		[ "$size" -ge "$max_bytes" ] || return 0
		say "the worker has not read $log.1; dropping it, $log is $size bytes"
		rm -f "$log.1" || return 1
	fi
	mv "$log" "$log.rotating" || return 1
	if ! kill -USR1 "$(cat "$pid_file")"; then
		# nginx is not there to reopen: put the file back, it still writes into it when it runs.
		mv "$log.rotating" "$log" || return 1
		say "could not signal nginx ($pid_file), not rotating"
		return 0
	fi
	sleep "$settle_seconds"
	mv "$log.rotating" "$log.1" || return 1
}

mkdir -p "$dir"
# A rotation cut short by a restart: nginx is not running yet, nothing writes into it.
if [ -e "$log.rotating" ] && [ ! -e "$log.1" ]; then
	mv "$log.rotating" "$log.1"
fi

if [ "${1:-}" = "--once" ]; then
	rotate_once
	exit
fi

chown "$owner" "$dir" 2>/dev/null || say "could not give $dir to uid $owner: the worker cannot take rotated logs"
chmod 0755 "$dir"
(
	while sleep "$check_seconds"; do
		rotate_once || say "rotation failed; trying again in $check_seconds s"
	done
) </dev/null >/dev/null &
