//go:build !unix

package cmd

// fileLimit is unknown here.
func fileLimit() uint64 { return 0 }
