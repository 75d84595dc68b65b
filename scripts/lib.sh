# shellcheck shell=bash
# Shared helpers for Lifeboat's developer/CI scripts. Source it; do not run it.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# log prints a progress line on stderr, prefixed with the calling script's name.
log() {
	printf '%s: %s\n' "$(basename "${0}")" "$*" >&2
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

# apt_ensure installs the given Debian packages that are missing (one
# apt-get update + install for all of them); does nothing when all are present.
apt_ensure() {
	local missing
	mapfile -t missing < <(apt_missing "$@")
	if [ "${#missing[@]}" -eq 0 ]; then
		log "apt: already installed: $*"
		return 0
	fi
	log "apt: installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
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
