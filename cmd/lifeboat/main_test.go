package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes what the tests share across test functions and so
// cannot leave to t.Cleanup: the lifeboat binary built by lifeboatBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
