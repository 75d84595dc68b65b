package failover

import (
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// phases times the steps of a run, one after another. A restore, refresh
// or failover names each step as it ends (done), and keeps the list in its
// record (records); a drill begins and ends its phases, adds those timed
// elsewhere (add) and keeps them, with their offsets and outcomes, in its
// report.
type phases struct {
	out  *[]report.Phase
	own  []report.Phase
	cur  string
	mark time.Time // when the current phase began
	at   float64   // offset of the next phase
}

// newPhases starts the clock; the phases go to out (a drill's report), or
// are kept for records when out is nil.
func newPhases(out *[]report.Phase) *phases {
	p := &phases{out: out, mark: time.Now()}
	if out == nil {
		p.out = &p.own
	}
	return p
}

// done ends the phase that ran since the previous one ended (or since the
// clock started), under name.
func (p *phases) done(name string) {
	now := time.Now()
	p.add(name, now.Sub(p.mark).Seconds(), nil)
	p.mark = now
}

// begin starts phase name; end (or endWith) closes it.
func (p *phases) begin(name string) { p.cur, p.mark = name, time.Now() }

func (p *phases) end(err error) { p.endWith(time.Since(p.mark).Seconds(), err) }

// endWith closes the current phase with a duration measured elsewhere.
func (p *phases) endWith(secs float64, err error) {
	p.add(p.cur, secs, err)
	p.cur = ""
}

// add records a phase of secs that failed with err (nil: passed).
func (p *phases) add(name string, secs float64, err error) {
	ph := report.Phase{Name: name, StartedOffsetSeconds: p.at, Seconds: secs, OK: err == nil}
	if err != nil {
		ph.Error = err.Error()
	}
	*p.out = append(*p.out, ph)
	p.at += secs
}

// skip records a phase that had nothing to do (offline: no download).
func (p *phases) skip(name string) {
	*p.out = append(*p.out, report.Phase{Name: name, StartedOffsetSeconds: p.at, OK: true})
}

// records are the phases as generation and run records keep them: name
// and seconds.
func (p *phases) records() []state.Phase {
	out := make([]state.Phase, 0, len(*p.out))
	for _, ph := range *p.out {
		out = append(out, state.Phase{Name: ph.Name, Seconds: ph.Seconds})
	}
	return out
}
