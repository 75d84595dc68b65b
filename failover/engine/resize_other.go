//go:build !unix

package engine

// onWindowResize does nothing where there is no SIGWINCH: the size passed at
// the start stays.
func onWindowResize(func()) (stop func()) { return func() {} }
