//go:build !linux && !windows && !darwin

package doctor

// findBrowsers finds nothing: this platform's browser policies are not
// known to doctor.
func findBrowsers() []Browser { return nil }
