// Package deploytest proves the Ansible playbook under ansible/ on a real,
// fresh Debian 12 "VPS": a container with systemd as PID 1 and a Docker
// Engine of its own inside, built by scripts/build-vps-image.sh. The test
// lints the playbook, converges the VPS twice (the second run must change
// nothing), checks the units, the services and the secrets' modes, then
// lets the refresh timer's unit restore a real pg_dump archive from an S3
// server (MinIO on a Docker network the test creates) and asks the app
// inside the VPS for the restored data.
//
// It needs root, the Docker Engine, ansible-playbook and ansible-lint from
// Debian, the VPS image, the lifeboat/postgres:15 image and MinIO: all of
// them installed by scripts/test-deps.sh.
package deploytest
