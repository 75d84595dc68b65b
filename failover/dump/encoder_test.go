package dump

import "github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"

// The tests write their archives with dumptest, a writer of custom-format
// archives made from the same description of the format as this reader
// but independently of it. It produces the versions the installed pg_dump
// cannot (1.15, 1.16, 1.10...) and the impossible archives a real pg_dump
// never writes.
type (
	synth      = dumptest.Archive
	synthEntry = dumptest.Entry
	synthBlock = dumptest.Block
	synthLO    = dumptest.LargeObject
	writer     = dumptest.Writer
)

var newSynth = dumptest.New
