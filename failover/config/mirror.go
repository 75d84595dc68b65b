package config

import (
	"net/url"
	"path/filepath"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// Mirror is a second, S3-compatible provider outside AWS that receives a
// copy of every verified archive (`lifeboat mirror`), with credentials of
// its own. No bucket: no mirror.
type Mirror struct {
	Bucket string `mapstructure:"bucket" json:"bucket" yaml:"bucket"`
	// Endpoint of the provider, e.g. https://us-east-1.linodeobjects.com,
	// https://s3.us-west-004.backblazeb2.com, https://<account>.r2.cloudflarestorage.com.
	Endpoint  string `mapstructure:"endpoint" json:"endpoint" yaml:"endpoint"`
	Region    string `mapstructure:"region" json:"region" yaml:"region"`
	PathStyle bool   `mapstructure:"path_style" json:"path_style" yaml:"path_style"`
	// CredentialsFile is an AWS shared-credentials file (mode 0600) with
	// the mirror's own keys: required, and not s3.credentials_file.
	CredentialsFile string `mapstructure:"credentials_file" json:"credentials_file" yaml:"credentials_file"`
	// Profile is the section of that file (default "default", whatever
	// $AWS_PROFILE says: that one is the bucket's).
	Profile string `mapstructure:"profile" json:"profile" yaml:"profile"`
	// PartSize of the multipart copy (5MiB-5GiB); one part is held in memory.
	PartSize units.ByteSize `mapstructure:"part_size" json:"part_size" yaml:"part_size"`
	// Timeout bounds each request that is not a data transfer, so that a
	// mirror that is down is reported in seconds.
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// Enabled reports whether the app has a mirror.
func (m Mirror) Enabled() bool { return m.Bucket != "" }

func (m *Mirror) applyDefaults() {
	// A profile named explicitly makes the AWS SDK take the mirror's keys
	// from its file even when AWS_ACCESS_KEY_ID (the bucket's) is set.
	if m.Profile == "" {
		m.Profile = "default"
	}
	if !m.Enabled() {
		return
	}
	if m.Region == "" {
		m.Region = "us-east-1"
	}
	if m.PartSize == 0 {
		m.PartSize = 16 << 20
	}
	if m.Timeout == 0 {
		m.Timeout = units.Duration(30 * time.Second)
	}
}

func (m Mirror) validate(key string, s3 S3, add func(key, format string, args ...any)) {
	if !m.Enabled() {
		for _, set := range []struct {
			name string
			v    string
		}{{"endpoint", m.Endpoint}, {"credentials_file", m.CredentialsFile}} {
			if set.v != "" {
				add(key+".bucket", "is required with mirror.%s (the bucket at the second provider)", set.name)
				return
			}
		}
		return
	}
	if m.Endpoint == "" {
		add(key+".endpoint", "is required: the S3 endpoint of the second provider (outside AWS), e.g. https://us-east-1.linodeobjects.com")
	} else if u, err := url.Parse(m.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add(key+".endpoint", "must be an http(s) URL, got %q", m.Endpoint)
	}
	switch {
	case m.CredentialsFile == "":
		add(key+".credentials_file", "is required: the mirror's own keys, in an AWS shared-credentials file of mode 0600")
	case s3.CredentialsFile != "" && filepath.Clean(m.CredentialsFile) == filepath.Clean(s3.CredentialsFile):
		add(key+".credentials_file", "must not be s3.credentials_file: a key that can reach both copies defeats the second one")
	default:
		if err := checkSecretFile(m.CredentialsFile); err != nil {
			add(key+".credentials_file", "%v", err)
		}
	}
	if m.Bucket == s3.Bucket && m.Endpoint == s3.Endpoint {
		add(key+".bucket", "is the app's own bucket: the mirror must be somewhere else")
	}
	if m.PartSize < 5<<20 || m.PartSize > 5<<30 {
		add(key+".part_size", "must be between 5MiB and 5GiB, got %d bytes", int64(m.PartSize))
	}
}
