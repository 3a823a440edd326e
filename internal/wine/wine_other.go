//go:build !windows

package wine

// Version returns "": only Windows programs run under Wine.
func Version() string { return "" }
