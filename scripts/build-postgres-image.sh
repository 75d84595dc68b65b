#!/usr/bin/env bash
# Builds the Docker image lifeboat/postgres:15 from Debian bookworm's
# postgresql-15 packages, for tests on machines that cannot pull from a
# container registry. Its entrypoint honours the official postgres image's
# contract (see testdata/postgres-image/docker-entrypoint.sh).
#
# When no image postgres:15 exists locally, the image is also tagged
# postgres:15, so Lifeboat's default ("the official postgres image of the
# archive's major") resolves to it without a registry.
#
# Idempotent and cached:
#   - nothing is done when the image exists with label
#     io.lifeboat.image-version=$IMAGE_VERSION;
#   - the debootstrapped root filesystem is kept as a tarball in
#     ~/.cache/lifeboat/ (keyed by $ROOTFS_VERSION), so rebuilding the image
#     (after `docker image rm`, or an entrypoint change) takes seconds.
#
# Usage: scripts/build-postgres-image.sh [--force]
#   --force   rebuild the image (the cached rootfs is reused)
# Env: LIFEBOAT_CACHE (default ~/.cache/lifeboat), LIFEBOAT_DEBIAN_MIRROR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "${here}/lib.sh"
repo="$(cd "${here}/.." && pwd)"

IMAGE=lifeboat/postgres:15
ALIAS=postgres:15
PG_MAJOR=15
SUITE=bookworm
# Bump IMAGE_VERSION whenever the image changes (entrypoint, config, labels):
# images with another version are rebuilt.
IMAGE_VERSION=1
# Bump ROOTFS_VERSION whenever the root filesystem recipe below changes:
# the cached tarball is then debootstrapped again.
ROOTFS_VERSION=1

force=
case "${1:-}" in
--force) force=1 ;;
"") ;;
*) die "usage: $0 [--force]" ;;
esac

command -v docker >/dev/null || die "docker not found (install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker Engine is not reachable (is dockerd running? are you in the docker group?)"

image_version() {
	docker image inspect --format '{{ index .Config.Labels "io.lifeboat.image-version" }}' "$1" 2>/dev/null || true
}

# tag_alias tags $IMAGE as $ALIAS unless $ALIAS is a foreign image (the
# official one, pulled on a machine that has a registry).
tag_alias() {
	if docker image inspect "${ALIAS}" >/dev/null 2>&1; then
		local ours
		ours="$(docker image inspect --format '{{ index .Config.Labels "io.lifeboat.test-image" }}' "${ALIAS}" 2>/dev/null || true)"
		if [ "${ours}" != postgres ]; then
			log "${ALIAS} exists and is not ours: leaving it alone"
			return 0
		fi
		if [ "$(docker image inspect --format '{{.Id}}' "${ALIAS}")" = "$(docker image inspect --format '{{.Id}}' "${IMAGE}")" ]; then
			return 0
		fi
	fi
	log "tagging ${IMAGE} as ${ALIAS}"
	docker tag "${IMAGE}" "${ALIAS}"
}

cache="$(lifeboat_cache_dir)"
mkdir -p "${cache}"
# One build at a time on this machine (several engineers, parallel CI jobs).
exec 9>"${cache}/postgres-image.lock"
if ! flock -n 9; then
	log "another build of ${IMAGE} is running: waiting for it"
	flock 9
fi

if [ -z "${force}" ] && [ "$(image_version "${IMAGE}")" = "${IMAGE_VERSION}" ]; then
	log "${IMAGE} is up to date (image-version ${IMAGE_VERSION})"
	tag_alias
	exit 0
fi

rootfs_tar="${cache}/postgres-${PG_MAJOR}-${SUITE}-rootfs-v${ROOTFS_VERSION}.tar"

# build_rootfs debootstraps a minimal bookworm with postgresql-15 into a
# temporary directory and stores it as ${rootfs_tar}.
build_rootfs() {
	[ "$(id -u)" -eq 0 ] || die "building the root filesystem needs root (debootstrap, chroot)"
	command -v debootstrap >/dev/null || apt_ensure debootstrap

	local mirror work rootfs start
	mirror="${LIFEBOAT_DEBIAN_MIRROR:-$(debian_mirror)}"
	work="$(mktemp -d "${cache}/rootfs-build.XXXXXX")"
	rootfs="${work}/rootfs"
	# shellcheck disable=SC2064 # expand now: the trap must remove this very directory.
	trap "umount -l '${rootfs}/proc' 2>/dev/null || true; rm -rf '${work}'" EXIT
	start=${SECONDS}

	log "debootstrap ${SUITE} (minbase) from ${mirror} into ${rootfs}: the root filesystem is built once (about 4 min on an idle 2-core machine, mostly downloads), then cached"
	debootstrap --variant=minbase --include=ca-certificates "${SUITE}" "${rootfs}" "${mirror}" >&2

	# Same steps as the official image's Dockerfile, before postgres is
	# installed: a postgres user with uid/gid 999 (volumes are portable
	# between this image and the official one) and no auto-created cluster.
	log "preparing the chroot"
	chroot "${rootfs}" groupadd -r postgres --gid=999
	chroot "${rootfs}" useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
	mkdir -p "${rootfs}/var/lib/postgresql" "${rootfs}/etc/postgresql-common/createcluster.d"
	chroot "${rootfs}" chown -R postgres:postgres /var/lib/postgresql
	echo 'create_main_cluster = false' >"${rootfs}/etc/postgresql-common/createcluster.d/lifeboat.conf"
	# No service may start inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"${rootfs}/usr/sbin/policy-rc.d"
	chmod 0755 "${rootfs}/usr/sbin/policy-rc.d"
	# Security and point-release updates too, not just the release.
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
	cp /etc/resolv.conf "${rootfs}/etc/resolv.conf"
	mount -t proc proc "${rootfs}/proc"

	log "installing postgresql-${PG_MAJOR} in the chroot"
	chroot "${rootfs}" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
		sh -c "apt-get update -q && apt-get -y -q upgrade && apt-get install -y -q --no-install-recommends postgresql-${PG_MAJOR} locales" >&2
	# en_US.UTF-8 as in the official image: restores of databases created
	# with that locale (Heroku's) can recreate them. LANG stays C.UTF-8.
	chroot "${rootfs}" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8

	umount "${rootfs}/proc"
	log "trimming the root filesystem"
	chroot "${rootfs}" apt-get clean
	rm -f "${rootfs}/usr/sbin/policy-rc.d" "${rootfs}/etc/resolv.conf" "${rootfs}/etc/hostname"
	rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/* \
		"${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* "${rootfs}"/usr/share/info/* \
		"${rootfs}"/var/cache/debconf/*-old "${rootfs}"/var/lib/dpkg/*-old \
		"${rootfs}"/var/log/*.log "${rootfs}"/var/log/apt/* \
		"${rootfs}"/tmp/* "${rootfs}"/var/tmp/*
	# Directories the entrypoint expects, as in the official image.
	mkdir -p "${rootfs}/docker-entrypoint-initdb.d" "${rootfs}/var/run/postgresql" "${rootfs}/var/lib/postgresql/data"
	chroot "${rootfs}" chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data
	chmod 03775 "${rootfs}/var/run/postgresql"
	chmod 01777 "${rootfs}/var/lib/postgresql/data"

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

# The image is built FROM scratch by ADDing the cached rootfs tarball (as
# Debian's own base images are), not with `docker import`: the engine here
# (20.10) refuses `--change STOPSIGNAL` on import, and the official image's
# STOPSIGNAL (SIGINT: a fast shutdown) is part of the contract.
pg_version="$(tar -xOf "${rootfs_tar}" ./var/lib/dpkg/status |
	awk -v p="postgresql-${PG_MAJOR}" '$1=="Package:"{pkg=$2} $1=="Version:" && pkg==p {print $2; exit}')"
[ -n "${pg_version}" ] || die "cannot find the postgresql-${PG_MAJOR} version in ${rootfs_tar}"

start=${SECONDS}
old_id="$(docker image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
context="$(mktemp -d "${cache}/image-build.XXXXXX")"
# shellcheck disable=SC2064
trap "rm -rf '${context}'" EXIT
# A hard link, not a copy: same file system, and the tarball is large.
ln "${rootfs_tar}" "${context}/rootfs.tar" 2>/dev/null || cp "${rootfs_tar}" "${context}/rootfs.tar"
install -m 0755 "${repo}/testdata/postgres-image/docker-entrypoint.sh" "${context}/docker-entrypoint.sh"
cat >"${context}/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 \\
    PG_MAJOR=${PG_MAJOR} \\
    PG_VERSION=${pg_version} \\
    PGDATA=/var/lib/postgresql/data
LABEL io.lifeboat.test-image=postgres \\
      io.lifeboat.image-version=${IMAGE_VERSION} \\
      io.lifeboat.postgres-version=${pg_version}
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF

log "building ${IMAGE} (postgresql-${PG_MAJOR} ${pg_version}, image-version ${IMAGE_VERSION})"
# BuildKit needs the buildx plugin, which Debian's docker.io lacks: use the
# classic builder then (FROM scratch needs no registry either way).
if docker buildx version >/dev/null 2>&1; then
	builder_env=()
else
	builder_env=(DOCKER_BUILDKIT=0)
fi
env "${builder_env[@]}" docker build --quiet --tag "${IMAGE}" "${context}" >/dev/null
rm -rf "${context}"
trap - EXIT

tag_alias
# The previous build, now untagged; kept if a container still uses it.
if [ -n "${old_id}" ] && [ "${old_id}" != "$(docker image inspect --format '{{.Id}}' "${IMAGE}")" ]; then
	if ! out="$(docker image rm "${old_id}" 2>&1)"; then
		log "keeping the previous image ${old_id}: ${out}"
	fi
fi
log "${IMAGE} built in $((SECONDS - start))s ($(docker image inspect --format '{{.Size}}' "${IMAGE}" | awk '{printf "%.0f MB", $1/1e6}'))"
