package bandwidth

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

func TestSharedLimitHoldsAcrossReaders(t *testing.T) {
	const rate = 1 << 20 // 1 MiB/s
	l := New(rate)
	start := time.Now()
	var wg sync.WaitGroup
	// Four readers share the limit: 2 MiB in total takes about two seconds
	// (less the initial burst), not half a second.
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := io.Copy(io.Discard, l.Reader(context.Background(), bytes.NewReader(make([]byte, 512<<10))))
			if err != nil || n != 512<<10 {
				t.Errorf("copy: %d %v", n, err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < 1700*time.Millisecond {
		t.Fatalf("2 MiB at 1 MiB/s took %v: the limit is not shared", d)
	}
}

func TestNilLimiterPassesThrough(t *testing.T) {
	var l *Limiter = New(0)
	r := bytes.NewReader([]byte("x"))
	if l.Reader(context.Background(), r) != io.Reader(r) {
		t.Fatal("nil limiter must return the reader itself")
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	l := New(64 << 10)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := io.Copy(io.Discard, l.Reader(ctx, bytes.NewReader(make([]byte, 1<<20))))
	if err == nil {
		t.Fatal("want an error once the context is done")
	}
}
