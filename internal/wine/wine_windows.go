package wine

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// wineGetVersion is Wine's own ntdll export; Windows' ntdll has no such
// function.
var wineGetVersion = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version")

// Version returns Wine's version, such as "8.0", or "" on Windows.
func Version() string {
	if wineGetVersion.Find() != nil {
		return ""
	}
	r, _, _ := wineGetVersion.Call()
	if r == 0 {
		return "(unknown version)"
	}
	// A static C string in ntdll.
	return windows.BytePtrToString((*byte)(unsafe.Add(unsafe.Pointer(nil), r)))
}
