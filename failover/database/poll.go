package database

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errPollTimeout is poll's error when its time is up.
var errPollTimeout = errors.New("no answer in time")

// poll calls try until it says done or fails, waiting delay in between
// (doubled each time up to maxDelay), for timeout at most (2 minutes when
// 0; then an error wrapping errPollTimeout).
func poll(ctx context.Context, timeout, delay, maxDelay time.Duration, try func() (bool, error)) error {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	for {
		done, err := try()
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%s)", errPollTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, maxDelay)
	}
}
