package main

import (
	"fmt"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"io"
	"sync/atomic"
	"time"
)

// progress redraws one status line on a terminal while work goes on.
type progress struct {
	w     io.Writer
	label string
	total int64
	done  *atomic.Int64
	stop  chan struct{}
	ended chan struct{}
}

// startProgress draws done/total every 200ms until Stop. It returns nil
// (which is safe to Stop) when stderr is not a terminal.
func (g *globals) startProgress(label string, total int64, done *atomic.Int64) *progress {
	if !g.stderrIsTerminal() {
		return nil
	}
	p := &progress{w: g.stderr, label: label, total: total, done: done, stop: make(chan struct{}), ended: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.ended)
	start := time.Now()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\033[K")
			return
		case <-t.C:
			n := p.done.Load()
			el := time.Since(start).Seconds()
			rate := float64(n) / max(el, 0.001)
			pct := 0.0
			if p.total > 0 {
				pct = 100 * float64(n) / float64(p.total)
			}
			eta := ""
			if rate > 0 && p.total > n {
				eta = fmt.Sprintf(" ETA %s", time.Duration(float64(p.total-n)/rate*float64(time.Second)).Round(time.Second))
			}
			fmt.Fprintf(p.w, "\r\033[K%s %5.1f%% %s / %s  %s/s%s", p.label, pct, humanBytes(n), humanBytes(p.total), humanBytes(int64(rate)), eta)
		}
	}
}

// Stop erases the line.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.ended
}

func humanBytes(n int64) string { return report.Bytes(n) }

func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
