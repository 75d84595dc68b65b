// Package testenv starts the real components Lifeboat's tests run against and
// builds the fixtures they need. It is imported by _test.go files, and by the
// demo and benchmark drivers (through [Standalone]).
//
//   - [StartS3]: a MinIO server process on 127.0.0.1 (the real S3 API), with
//     an aws-sdk-go-v2 client pointed at it; it can be stopped and started
//     again for outage tests. [UseS3] gives the same helpers for another S3
//     server (the demo's in-process one; the tests run MinIO).
//     [WithDrives] starts it in erasure mode (Object Lock, tiers), [WithKMS]
//     with a key for default bucket encryption; package miniotest adds
//     users with IAM policies and remote tiers through MinIO's admin API.
//   - [StartPostgres]: a throw-away local Postgres cluster, to produce real
//     pg_dump custom-format archives ([Postgres.Dump]) of a database shaped
//     like a Heroku app's ([LoadHerokuLike]).
//   - [RequireDocker], [RequirePostgresImage]: the real Docker Engine and the
//     locally built postgres image ([PostgresImage]).
//   - Fixtures: [Gzip], [TarGz], [HerokuKey].
//
// Everything is installed by scripts/test-deps.sh; a missing component fails
// the test (t.Fatal) and names that script; nothing is ever skipped. Every
// process started here is stopped by t.Cleanup, and is killed by the kernel if
// the test binary dies first (parent-death signal), so none outlives a test.
//
// Helpers take a testing.TB and fail the test on error, so they can be used
// from tests and benchmarks alike; they are safe to use from parallel tests.
package testenv
