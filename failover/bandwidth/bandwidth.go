// Package bandwidth caps the transfer rate of readers that share a limit,
// so a download on a small VPS does not starve the standby it feeds.
package bandwidth

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// Limiter is a shared byte-rate limit. A nil *Limiter means no limit.
type Limiter struct {
	l     *rate.Limiter
	chunk int
}

// New returns a limiter of bytesPerSecond shared by every reader it wraps,
// or nil when bytesPerSecond <= 0.
func New(bytesPerSecond int64) *Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	// A burst of a tenth of a second keeps the rate smooth; the chunk read
	// at once may not exceed it.
	burst := int(max(bytesPerSecond/10, 16<<10))
	return &Limiter{l: rate.NewLimiter(rate.Limit(bytesPerSecond), burst), chunk: min(burst, 256<<10)}
}

// Reader wraps r so that reads through it respect the limit. It returns r
// itself when l is nil.
func (l *Limiter) Reader(ctx context.Context, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &reader{ctx: ctx, r: r, l: l}
}

type reader struct {
	ctx context.Context
	r   io.Reader
	l   *Limiter
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) > r.l.chunk {
		p = p[:r.l.chunk]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.l.WaitN(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
