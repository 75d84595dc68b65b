# shellcheck shell=bash
# Shared helpers for Lifeboat's developer/CI scripts. Source it; do not run it.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# log prints a progress line on stderr, prefixed with the calling script's name.
log() {
	printf '%s: %s\n' "$(basename "${0}")" "$*" >&2
}

# elapsed prints the time since the script started, as M:SS.
elapsed() {
	printf '%d:%02d' $((SECONDS / 60)) $((SECONDS % 60))
}

# die prints an error on stderr and exits 1.
die() {
	log "error: $*"
	exit 1
}

# lifeboat_cache_dir is where downloaded/built test dependencies are kept
# between runs (MinIO binary, Postgres image rootfs).
lifeboat_cache_dir() {
	printf '%s\n' "${LIFEBOAT_CACHE:-${HOME}/.cache/lifeboat}"
}

# lifeboat_tools_dir is where tool binaries (minio) are installed. The Go test
# helpers in internal/testenv look there by default.
lifeboat_tools_dir() {
	printf '%s\n' "${LIFEBOAT_TOOLS:-$(lifeboat_cache_dir)/tools/bin}"
}

# as_root runs a command as root, via sudo when the caller is not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# apt_missing prints those of the given Debian packages that are not installed.
apt_missing() {
	local pkg
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null | grep -qx installed; then
			printf '%s\n' "${pkg}"
		fi
	done
}

# apt_lock_files are the locks apt-get and dpkg take (POSIX fcntl locks).
# LIFEBOAT_APT_LOCK_FILES replaces the list (for tests).
apt_lock_files() {
	printf '%s\n' ${LIFEBOAT_APT_LOCK_FILES:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
}

# apt_lock_holder prints "FILE PID COMMAND" for the first apt or dpkg lock
# that another process holds (from /proc/locks: fcntl locks, which flock(1)
# cannot test), and nothing when none is held.
apt_lock_holder() {
	local f dev ino pid
	while IFS= read -r f; do
		[ -e "${f}" ] || continue
		# /proc/locks names the file as MAJOR:MINOR:INODE, in hex then decimal.
		read -r dev ino < <(stat -L -c '%D %i' "${f}")
		dev=$(printf '%02x:%02x' $((0x${dev} >> 8)) $((0x${dev} & 0xff)))
		pid=$(awk -v id="${dev}:${ino}" '$2 != "->" && $6 == id { print $5; exit }' /proc/locks)
		if [ -n "${pid}" ]; then
			printf '%s %s %s\n' "${f}" "${pid}" "$(cat "/proc/${pid}/comm" 2>/dev/null || echo '?')"
			return 0
		fi
	done < <(apt_lock_files)
}

# apt_wait_lock waits until no other process holds apt's or dpkg's locks
# (on a new cloud machine, unattended-upgrades runs for minutes after boot),
# saying who holds them, for at most LIFEBOAT_APT_LOCK_TIMEOUT seconds
# (default 600). It fails when they are still held then.
apt_wait_lock() {
	local timeout=${LIFEBOAT_APT_LOCK_TIMEOUT:-600} waited=0 holder file pid comm
	while holder=$(apt_lock_holder) && [ -n "${holder}" ]; do
		read -r file pid comm <<<"${holder}"
		if [ "${waited}" -ge "${timeout}" ]; then
			die "the package manager is still busy after ${timeout}s: ${file} is held by pid ${pid} (${comm}). Wait for it to finish (ps -fp ${pid}) and run this again, or set LIFEBOAT_APT_LOCK_TIMEOUT (seconds)"
		fi
		if [ $((waited % 15)) -eq 0 ]; then
			log "apt: waiting for the package manager: ${file} is held by pid ${pid} (${comm}), ${waited}s of at most ${timeout}s (on a new machine, unattended-upgrades often runs for a few minutes)"
		fi
		sleep 1
		waited=$((waited + 1))
	done
	APT_LOCK_WAITED=${waited}
}

# apt_ensure installs the given Debian packages that are missing (one
# apt-get update + install for all of them); does nothing when all are
# present. It waits for a busy package manager first (apt_wait_lock), and
# apt-get itself waits for what is left of that time if the lock is taken
# again in between.
apt_ensure() {
	local missing t0=${SECONDS}
	mapfile -t missing < <(apt_missing "$@")
	if [ "${#missing[@]}" -eq 0 ]; then
		log "apt: already installed: $*"
		return 0
	fi
	apt_wait_lock
	local lock_timeout=(-o "DPkg::Lock::Timeout=$((${LIFEBOAT_APT_LOCK_TIMEOUT:-600} - APT_LOCK_WAITED))")
	log "apt: installing ${missing[*]} (with what they depend on)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock_timeout[@]}" update -q >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock_timeout[@]}" install -y -q --no-install-recommends "${missing[@]}" >&2
	log "apt: installed ${missing[*]} in $((SECONDS - t0))s"
}

# debian_mirror prints the Debian archive mirror this machine's apt uses
# (first deb.debian.org-style URI for the main archive), defaulting to
# http://deb.debian.org/debian.
debian_mirror() {
	local uri
	uri=$(
		{
			grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
			grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
				sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}'
		} | grep -E '/debian/?$' | grep -v -- '-security' | head -n1
	) || true
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
