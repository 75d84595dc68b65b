package config

import (
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// Bucket is what Lifeboat says about the app's bucket itself (`lifeboat
// bucket policy|lifecycle|check`).
type Bucket struct {
	// GlacierAfter: archives move to GlacierClass this long after they
	// were written. Default 30d; 0 for never.
	GlacierAfter *units.Duration `mapstructure:"glacier_after" json:"glacier_after" yaml:"glacier_after"`
	// GlacierClass is GLACIER (default), DEEP_ARCHIVE or GLACIER_IR; on
	// MinIO the name of a remote tier.
	GlacierClass string `mapstructure:"glacier_class" json:"glacier_class" yaml:"glacier_class"`
	// ExpireAfter: archives are deleted this long after they were written
	// (Object Lock still protects them until their retention ends). Default
	// 0: never.
	ExpireAfter units.Duration `mapstructure:"expire_after" json:"expire_after" yaml:"expire_after"`
	// AbortMultipartAfter: unfinished multipart uploads are aborted after
	// this long. Default 7d; 0 for never (MinIO ignores the action).
	AbortMultipartAfter *units.Duration `mapstructure:"abort_multipart_after" json:"abort_multipart_after" yaml:"abort_multipart_after"`
	// Check adds `lifeboat bucket check` to `lifeboat check`.
	Check bool `mapstructure:"check" json:"check" yaml:"check"`
	// ARNPartition is the partition of the ARNs in the rendered IAM
	// policies: aws (default), aws-cn or aws-us-gov.
	ARNPartition string `mapstructure:"arn_partition" json:"arn_partition" yaml:"arn_partition"`
}

// Days of the lifecycle, whole days as S3 counts them.
func (b Bucket) GlacierDays() int        { return days(b.GlacierAfter) }
func (b Bucket) ExpireDays() int         { return days(&b.ExpireAfter) }
func (b Bucket) AbortMultipartDays() int { return days(b.AbortMultipartAfter) }
func days(d *units.Duration) int {
	if d == nil {
		return 0
	}
	return int(d.D() / (24 * time.Hour))
}

func (b *Bucket) applyDefaults() {
	if b.GlacierAfter == nil {
		d := units.Duration(30 * 24 * time.Hour)
		b.GlacierAfter = &d
	}
	if b.GlacierClass == "" {
		b.GlacierClass = "GLACIER"
	}
	if b.AbortMultipartAfter == nil {
		d := units.Duration(7 * 24 * time.Hour)
		b.AbortMultipartAfter = &d
	}
	if b.ARNPartition == "" {
		b.ARNPartition = "aws"
	}
}

func (b Bucket) validate(key string, add func(key, format string, args ...any)) {
	for _, d := range []struct {
		name string
		v    *units.Duration
	}{{"glacier_after", b.GlacierAfter}, {"expire_after", &b.ExpireAfter}, {"abort_multipart_after", b.AbortMultipartAfter}} {
		if d.v == nil {
			continue
		}
		if *d.v < 0 || d.v.D()%(24*time.Hour) != 0 {
			add(key+"."+d.name, "must be whole days (e.g. 30d), or 0 for never; got %s", *d.v)
		}
	}
	if e, g := b.ExpireDays(), b.GlacierDays(); e > 0 && g > 0 && e <= g {
		add(key+".expire_after", "must be later than glacier_after (%dd), got %dd", g, e)
	}
	switch b.GlacierClass {
	case "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR":
	default:
		if b.GlacierClass == "" || len(b.GlacierClass) > 64 {
			add(key+".glacier_class", "must be GLACIER, DEEP_ARCHIVE or GLACIER_IR (or a MinIO tier's name)")
		}
	}
	switch b.ARNPartition {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		add(key+".arn_partition", "must be aws, aws-cn or aws-us-gov, got %q", b.ARNPartition)
	}
}
