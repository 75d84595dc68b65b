#!/usr/bin/env bash
# Builds the Docker image of a fresh Debian 12 "VPS" for the deployment test
# (internal/deploytest): a debootstrapped bookworm with systemd as PID 1,
# dbus, python3 and ca-certificates, and nothing else, as a new VPS comes
# from a hosting provider. The Ansible playbook under ansible/ then turns it
# into a Lifeboat standby, with its own Docker Engine inside.
#
# The image is tagged lifeboat-test/vps:bookworm-<first 12 hex digits of the
# SHA-256 of this file>: any change to this script makes a new tag, and the
# test looks for the tag of the script it sees. The root filesystem is kept
# as a tarball in ~/.cache/lifeboat/ under the same hash, so a removed image
# is imported again in seconds; a build takes about 3 minutes.
#
# Idempotent: nothing is done when the image exists. Needs root (debootstrap,
# chroot) and a running Docker Engine.
#
# Usage: scripts/build-vps-image.sh [--print-tag]
#   --print-tag   print the image tag this script builds and exit
# Env: LIFEBOAT_CACHE (default ~/.cache/lifeboat), LIFEBOAT_DEBIAN_MIRROR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "${here}/lib.sh"

REPO=lifeboat-test/vps
SUITE=bookworm
hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
IMAGE="${REPO}:${SUITE}-${hash}"

case "${1:-}" in
--print-tag)
	printf '%s\n' "${IMAGE}"
	exit 0
	;;
"") ;;
*) die "usage: $0 [--print-tag]" ;;
esac

command -v docker >/dev/null || die "docker not found (install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker Engine is not reachable (is dockerd running?)"

cache="$(lifeboat_cache_dir)"
mkdir -p "${cache}"
exec 9>"${cache}/vps-image.lock"
if ! flock -n 9; then
	log "another build of the VPS image is running: waiting for it"
	flock 9
fi

if docker image inspect "${IMAGE}" >/dev/null 2>&1; then
	log "${IMAGE} is present"
	exit 0
fi

rootfs_tar="${cache}/vps-${SUITE}-${hash}-rootfs.tar"

build_rootfs() {
	[ "$(id -u)" -eq 0 ] || die "building the VPS root filesystem needs root (debootstrap, chroot)"
	command -v debootstrap >/dev/null || apt_ensure debootstrap
	local mirror work rootfs start
	mirror="${LIFEBOAT_DEBIAN_MIRROR:-$(debian_mirror)}"
	work="$(mktemp -d "${cache}/vps-build.XXXXXX")"
	rootfs="${work}/rootfs"
	# shellcheck disable=SC2064 # expand now: the trap must remove this very directory.
	trap "umount -l '${rootfs}/proc' 2>/dev/null || true; rm -rf '${work}'" EXIT
	start=${SECONDS}

	log "debootstrap ${SUITE} (minbase + systemd) from ${mirror}"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,ca-certificates \
		"${SUITE}" "${rootfs}" "${mirror}" >&2

	# Security and point-release updates, as a provider's image has them.
	rm -f "${rootfs}/etc/apt/sources.list"
	cat >"${rootfs}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

	# Units that have nothing to do in a container and would only fail.
	local unit
	for unit in systemd-remount-fs.service getty.target console-getty.service \
		systemd-firstboot.service systemd-udevd.service systemd-modules-load.service \
		sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount; do
		ln -sf /dev/null "${rootfs}/etc/systemd/system/${unit}"
	done
	# A machine-id is made at first boot, as on a fresh VPS.
	: >"${rootfs}/etc/machine-id"
	rm -f "${rootfs}/var/lib/dbus/machine-id"

	log "trimming the root filesystem"
	chroot "${rootfs}" apt-get clean
	rm -f "${rootfs}/etc/hostname" "${rootfs}/etc/resolv.conf"
	rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin \
		"${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* "${rootfs}"/usr/share/info/* \
		"${rootfs}"/var/log/*.log "${rootfs}"/var/log/apt/* "${rootfs}"/tmp/* "${rootfs}"/var/tmp/*

	log "storing the root filesystem as ${rootfs_tar}"
	tar --numeric-owner -C "${rootfs}" -cf "${rootfs_tar}.tmp" .
	mv "${rootfs_tar}.tmp" "${rootfs_tar}"
	rm -rf "${work}"
	trap - EXIT
	log "root filesystem built in $((SECONDS - start))s"
}

if [ -s "${rootfs_tar}" ]; then
	log "using cached root filesystem ${rootfs_tar}"
else
	build_rootfs
fi

start=${SECONDS}
log "importing ${IMAGE}"
docker import \
	--change 'ENV container=docker' \
	--change 'CMD ["/sbin/init"]' \
	--message "Debian ${SUITE} VPS for Lifeboat's deployment test (scripts/build-vps-image.sh)" \
	"${rootfs_tar}" "${IMAGE}" >/dev/null

# Builds of earlier versions of this script: their images and tarballs.
for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "${REPO}"); do
	if [ "${old}" != "${IMAGE}" ]; then
		docker image rm "${old}" >/dev/null 2>&1 || log "keeping ${old} (in use)"
	fi
done
for old in "${cache}"/vps-"${SUITE}"-*-rootfs.tar; do
	if [ -e "${old}" ] && [ "${old}" != "${rootfs_tar}" ]; then
		rm -f "${old}"
	fi
done
log "${IMAGE} imported in $((SECONDS - start))s"
