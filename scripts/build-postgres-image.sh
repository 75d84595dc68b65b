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
#   - the root filesystem (mmdebstrap) is kept as a tarball in
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
# the cached tarball is then built again. (An image built from an older
# rootfs stays in use until IMAGE_VERSION changes.)
ROOTFS_VERSION=2

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

# build_rootfs builds a minimal bookworm with postgresql-15 (security and
# point-release updates included) straight into ${rootfs_tar}, with
# mmdebstrap: apt downloads in parallel and dpkg installs everything in one
# pass: 229 s where debootstrap followed by apt-get in a chroot took 559 s,
# on the same busy 2-core machine.
build_rootfs() {
	[ "$(id -u)" -eq 0 ] || die "building the root filesystem needs root (mmdebstrap, chroot)"
	command -v mmdebstrap >/dev/null || apt_ensure mmdebstrap

	local mirror start
	mirror="${LIFEBOAT_DEBIAN_MIRROR:-$(debian_mirror)}"
	start=${SECONDS}
	# shellcheck disable=SC2064 # expand now: the trap must remove this very file.
	trap "rm -f '${rootfs_tar}.tmp'" EXIT

	log "mmdebstrap ${SUITE} (minbase) with postgresql-${PG_MAJOR} from ${mirror}: the root filesystem is built once (about 3 min on an idle 2-core machine), then cached in ${rootfs_tar}"
	# The hooks, in order:
	#   essential: before postgresql is installed, as the official image's
	#     Dockerfile does: a postgres user and group with id 999 (volumes are
	#     portable between this image and the official one; written to
	#     /etc/passwd directly, as useradd is not essential) and no
	#     auto-created cluster;
	#   customize: en_US.UTF-8 as in the official image (restores of
	#     databases created with that locale, Heroku's, can recreate them; LANG
	#     stays C.UTF-8), the directories the entrypoint expects, and a trim.
	# PATH: mmdebstrap's helpers must be Debian's, not a pyenv shim's.
	PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --variant=minbase --mode=root --format=tar \
		--include="ca-certificates,locales,postgresql-${PG_MAJOR}" \
		--essential-hook='echo "postgres:x:999:" >>"$1/etc/group" &&
			echo "postgres:x:999:999:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash" >>"$1/etc/passwd" &&
			mkdir -p "$1/var/lib/postgresql" "$1/etc/postgresql-common/createcluster.d" &&
			chown 999:999 "$1/var/lib/postgresql" &&
			echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/lifeboat.conf"' \
		--customize-hook='chroot "$1" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8' \
		--customize-hook='chroot "$1" sh -c "mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data &&
			chown postgres:postgres /var/lib/postgresql/data && chmod 01777 /var/lib/postgresql/data"' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* \
			"$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* \
			"$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old \
			"$1"/var/log/*.log "$1"/var/log/apt/* "$1"/tmp/* "$1"/var/tmp/* \
			"$1"/etc/hostname' \
		"${SUITE}" "${rootfs_tar}.tmp" \
		"deb ${mirror} ${SUITE} main" \
		"deb ${mirror} ${SUITE}-updates main" \
		"deb ${mirror%/debian}/debian-security ${SUITE}-security main" >&2
	# mmdebstrap empties /run at the end; the official image has
	# /run/postgresql (postgres, mode 3775): add it to the tarball.
	local extra
	extra="$(mktemp -d "${cache}/rootfs-run.XXXXXX")"
	mkdir -p "${extra}/run/postgresql"
	chown 999:999 "${extra}/run/postgresql"
	chmod 03775 "${extra}/run/postgresql"
	tar --numeric-owner -C "${extra}" -rf "${rootfs_tar}.tmp" ./run/postgresql
	rm -rf "${extra}"
	mv "${rootfs_tar}.tmp" "${rootfs_tar}"
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

log "building ${IMAGE} (postgresql-${PG_MAJOR} ${pg_version}, image-version ${IMAGE_VERSION}; about a minute)"
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
